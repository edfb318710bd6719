/**
 * The redirect stage: its API (official client; authentik's two object rules, script URLs refused) and, through the
 * executor, the static redirect, the switch to another flow carrying the context (or not) and the page's query, and
 * a target flow that does not apply; a `require_redirect` flow runs only when another flow sent the person to it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { createStage, flowOf } from '../../helpers/flows.js';
import { body, clients, failure } from '../../rest/contract/client.js';

const URL = 'https://url.test/';
const flowPk = async (srv: TestServer, slug: string) => (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;

for (const dialect of dialects()) {
  describe(`redirect stage (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'target-dummy' });
      await flowOf(srv, 'target', [dummy]);
    });
    after(async () => srv.close());

    it('API: create, list, patch; a target for the mode is required; script URLs are refused (400)', async () => {
      const api = clients(srv).stages;
      const created = await body(
        api.stagesRedirectCreateRaw({ redirectStageRequest: { name: 'api-redirect', mode: 'static', targetStatic: URL } }),
      );
      assertMatches('RedirectStage', created);
      assert.deepEqual(
        { keep_context: created.keep_context, mode: created.mode, target_static: created.target_static, target_flow: created.target_flow },
        { keep_context: true, mode: 'static', target_static: URL, target_flow: null },
      );
      assert.equal(created.component, 'ak-stage-redirect-form');
      const list = await body(api.stagesRedirectListRaw({ name: 'api-redirect' }));
      assertMatches('PaginatedRedirectStageList', list);
      assert.equal(list.results.length, 1);
      const noUrl = await failure(api.stagesRedirectCreateRaw({ redirectStageRequest: { name: 'r2', mode: 'static' } }));
      assert.deepEqual(noUrl, { status: 400, body: { non_field_errors: ['Target URL should be present when mode is Static.'] } });
      const noFlow = await failure(api.stagesRedirectCreateRaw({ redirectStageRequest: { name: 'r3', mode: 'flow' } }));
      assert.deepEqual(noFlow.body, { non_field_errors: ['Target Flow should be present when mode is Flow.'] });
      // a PATCH of the mode alone is judged with the stored target
      const toFlow = await call(srv, 'PATCH', `/stages/redirect/${created.pk}/`, { mode: 'flow' });
      assert.equal(toFlow.status, 400);
      const target = await flowPk(srv, 'target');
      const patched = await call(srv, 'PATCH', `/stages/redirect/${created.pk}/`, { mode: 'flow', target_flow: target });
      assert.equal(patched.status, 200);
      assert.equal(patched.body.target_flow, target);
      for (const bad of ['javascript:alert(1)', ' JavaScript:alert(1)', 'data:text/html,<b>x</b>', 'vbscript:x', 'java\tscript:alert(1)']) {
        const r = await call(srv, 'POST', '/stages/redirect/', { name: 'bad', mode: 'static', target_static: bad });
        assert.equal(r.status, 400, bad);
        assert.ok(r.body.target_static, bad);
      }
      assert.ok((await call(srv, 'POST', '/stages/redirect/', { name: 'bad-mode', mode: 'elsewhere', target_static: URL })).body.mode);
    });

    it('static: a redirect challenge to the URL; a stored script URL is never sent', async () => {
      const stage = await createStage(srv, '/stages/redirect/', { name: 'to-static', mode: 'static', target_static: URL });
      await flowOf(srv, 'static-redirect', [stage]);
      const r = await new Browser(srv.api).get('static-redirect');
      assert.equal(r.body.component, 'xak-flow-redirect');
      assert.equal(r.body.to, URL);
      assert.equal(r.body.final_redirect, undefined);
      // written around the API
      await srv.app.store.db
        .updateTable('stage_redirect' as 'stages')
        .set({ target_static: 'javascript:alert(1)' } as never)
        .where('stage_uuid', '=', stage)
        .execute();
      await call(srv, 'POST', '/flows/instances/static-redirect/cache_clear/');
      const evil = await new Browser(srv.api).get('static-redirect');
      assert.equal(evil.body.component, 'ak-stage-access-denied');
    });

    it('flow: the target flow is planned into the session with the context and the page query', async () => {
      const ask = await call(srv, 'POST', '/stages/prompt/prompts/', {
        name: 'rd-username',
        field_key: 'username',
        label: 'u',
        type: 'text',
      });
      const prompt = await createStage(srv, '/stages/prompt/stages/', { name: 'rd-prompt', fields: [ask.body.pk] });
      const write = await createStage(srv, '/stages/user_write/', { name: 'rd-write', user_creation_mode: 'always_create' });
      await flowOf(srv, 'rd-target', [write], { designation: 'enrollment' });
      const target = await flowPk(srv, 'rd-target');
      const keep = await createStage(srv, '/stages/redirect/', { name: 'rd-keep', mode: 'flow', target_flow: target });
      const drop = await createStage(srv, '/stages/redirect/', { name: 'rd-drop', mode: 'flow', target_flow: target, keep_context: false });
      await flowOf(srv, 'rd-keep', [prompt, keep], { designation: 'enrollment' });
      await flowOf(srv, 'rd-drop', [prompt, drop], { designation: 'enrollment' });

      const b = new Browser(srv.api);
      await b.get('rd-keep', 'next=%2Fwelcome');
      const moved = await b.solve('rd-keep', { component: 'ak-stage-prompt', username: 'carried' } as never, 'next=%2Fwelcome');
      assert.equal(moved.body.component, 'xak-flow-redirect');
      assert.equal(moved.body.to, '/if/flow/rd-target/?next=%2Fwelcome');
      const done = await b.get('rd-target', 'next=%2Fwelcome');
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/welcome', final_redirect: true });
      assert.equal((await call(srv, 'GET', '/core/users/?username=carried')).body.results.length, 1, 'the prompt data came along');

      const c = new Browser(srv.api);
      await c.get('rd-drop');
      const moved2 = await c.solve('rd-drop', { component: 'ak-stage-prompt', username: 'dropped' } as never);
      assert.equal(moved2.body.to, '/if/flow/rd-target/');
      const denied = await c.get('rd-target');
      assert.equal(denied.body.component, 'ak-stage-access-denied', 'no prompt data without keep_context');
      assert.equal((await call(srv, 'GET', '/core/users/?username=dropped')).body.results.length, 0);
    });

    it('flow: a target flow that does not apply to the person ends the flow', async () => {
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'auth-only-dummy' });
      await flowOf(srv, 'members-only', [dummy], { authentication: 'require_authenticated' });
      const stage = await createStage(srv, '/stages/redirect/', {
        name: 'to-members',
        mode: 'flow',
        target_flow: await flowPk(srv, 'members-only'),
      });
      await flowOf(srv, 'to-members', [stage]);
      const r = await new Browser(srv.api).get('to-members');
      assert.equal(r.body.component, 'ak-stage-access-denied');
    });

    it('flow: a require_redirect flow applies only when a flow redirected to it (authentik’s is_redirected)', async () => {
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'redirected-only-dummy' });
      await flowOf(srv, 'redirected-only', [dummy], { authentication: 'require_redirect' });
      // opened directly: it does not apply
      const direct = await new Browser(srv.api).get('redirected-only');
      assert.equal(direct.body.component, 'ak-stage-access-denied');
      const stage = await createStage(srv, '/stages/redirect/', {
        name: 'to-redirected-only',
        mode: 'flow',
        target_flow: await flowPk(srv, 'redirected-only'),
      });
      await flowOf(srv, 'to-redirected-only', [stage]);
      const b = new Browser(srv.api);
      const moved = await b.get('to-redirected-only');
      assert.deepEqual([moved.body.component, moved.body.to], ['xak-flow-redirect', '/if/flow/redirected-only/']);
      // sent there by the first flow: its stage runs
      const there = await b.get('redirected-only');
      assert.equal(there.body.component, 'ak-stage-dummy');
    });
  });
}
