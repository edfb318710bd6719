/**
 * The executor's error paths: bodies it cannot read are `ak-stage-flow-error` with HTTP 200 (never a 4xx/5xx) and
 * leave the plan alone; a body that is JSON but not an object is an invalid response of the current stage (DRF's
 * "Invalid data. Expected a dictionary, but got list."); an unknown slug is a 404; a flow that does not apply to
 * the requester follows its `denied_action`.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createStage, createUser, flowOf, sessionRow } from '../helpers/flows.js';
import { failUpdatesOf } from '../helpers/faults.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`flow executor errors (${dialect})`, () => {
    let srv: TestServer;
    let dummy: string;
    before(async () => {
      srv = await startServer(dialect);
      dummy = await createStage(srv, '/stages/dummy/', { name: 'errors-dummy' });
    });
    after(async () => srv.close());

    const post = (b: Browser, slug: string, contentType: string, body: string) =>
      b.fetch(`/flows/executor/${slug}/?query=`, { method: 'POST', headers: { 'content-type': contentType }, body });

    it('malformed JSON, a text/plain body and a form body: ak-stage-flow-error, HTTP 200, plan untouched', async () => {
      const b = new Browser(srv.api);
      await b.get(FLOW);
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' });
      assert.equal(pw.body.component, 'ak-stage-password');
      const before = (await sessionRow(srv, b.session))?.data.plan;
      for (const [ct, body] of [
        ['application/json', '{"password": '],
        ['application/json', '{oops'],
        ['text/plain', 'hello'],
        ['application/x-www-form-urlencoded', 'password=x'],
      ] as const) {
        const r = await post(b, FLOW, ct, body);
        assert.equal(r.status, 200, `${ct} ${body}`);
        assert.equal(r.body.component, 'ak-stage-flow-error', `${ct} ${body}`);
        assert.equal(typeof r.body.request_id, 'string');
      }
      assert.deepEqual((await sessionRow(srv, b.session))?.data.plan, before, 'the plan is where it was');
      const again = await b.get(FLOW);
      assert.equal(again.body.component, 'ak-stage-password');
      assert.equal((await b.solve(FLOW, { component: 'ak-stage-password', password: ADMIN_PASSWORD })).body.component, 'xak-flow-redirect');
    });

    it('a JSON array or scalar body: the current stage again with a non-field error, HTTP 200', async () => {
      const b = new Browser(srv.api);
      await b.get(FLOW);
      for (const [body, type] of [
        ['[1,2]', 'list'],
        ['"akadmin"', 'str'],
        ['5', 'int'],
      ] as const) {
        const r = await post(b, FLOW, 'application/json', body);
        assert.equal(r.status, 200, body);
        assert.equal(r.body.component, 'ak-stage-identification', body);
        assert.deepEqual(r.body.response_errors, {
          non_field_errors: [{ string: `Invalid data. Expected a dictionary, but got ${type}.`, code: 'invalid' }],
        });
      }
      // an empty body is {}
      const empty = await post(b, FLOW, 'application/json', '');
      assert.deepEqual(empty.body.response_errors, { non_field_errors: [{ string: 'No identification data provided.', code: 'invalid' }] });
      // the plan never moved: nothing was stored (the next request plans it again)
      assert.equal(b.session, undefined);
    });

    it('an unknown slug is a 404, for GET and POST', async () => {
      const b = new Browser(srv.api);
      const g = await b.get('no-such-flow');
      assert.equal(g.status, 404);
      assert.deepEqual(g.body, { detail: 'No Flow matches the given query.' });
      const p = await b.solve('no-such-flow', { component: 'ak-stage-dummy' });
      assert.equal(p.status, 404);
      assert.equal(b.session, undefined, 'no session is opened for it');
    });

    it('require_authenticated while anonymous: "Flow does not apply to current user."; denied_action continue → "/"', async () => {
      const slug = await flowOf(srv, 'needs-login', [dummy], { authentication: 'require_authenticated', denied_action: 'message' });
      const b = new Browser(srv.api);
      const r = await b.get(slug);
      assert.equal(r.status, 200);
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'Flow does not apply to current user.');
      assert.equal(r.body.pending_user, '');
      assert.equal((await sessionRow(srv, b.session))?.data.plan, undefined, 'no plan was made');

      assert.equal((await call(srv, 'PATCH', `/flows/instances/${slug}/`, { denied_action: 'continue' })).status, 200);
      const c = await new Browser(srv.api).get(slug);
      assert.equal(c.body.component, 'xak-flow-redirect');
      assert.equal(c.body.to, '/');
      assert.ok(!c.body.final_redirect);

      // message_continue: the executor URL's own relative `next`, else the message
      await call(srv, 'PATCH', `/flows/instances/${slug}/`, { denied_action: 'message_continue' });
      const own = await new Browser(srv.api).fetch(`/flows/executor/${slug}/?query=&next=${encodeURIComponent('/elsewhere')}`);
      assert.equal(own.body.component, 'xak-flow-redirect');
      assert.equal(own.body.to, '/elsewhere');
      const evil = await new Browser(srv.api).fetch(`/flows/executor/${slug}/?query=&next=${encodeURIComponent('https://evil.example/')}`);
      assert.equal(evil.body.error_message, 'Flow does not apply to current user.');
      const inner = await new Browser(srv.api).get(slug, 'next=%2Felsewhere');
      assert.equal(inner.body.component, 'ak-stage-access-denied', 'the inner query’s next does not count');
    });

    it('an authentication flow that refuses a logged-in user just ends: redirect to next', async () => {
      const slug = await flowOf(srv, 'anon-only', [dummy], { authentication: 'require_unauthenticated', denied_action: 'message' });
      assert.equal((await new Browser(srv.api).get(slug)).body.component, 'ak-stage-dummy', 'anonymous: applies');
      const b = new Browser(srv.api);
      await b.get(FLOW);
      await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' });
      await b.solve(FLOW, { component: 'ak-stage-password', password: ADMIN_PASSWORD });
      const r = await b.get(slug, 'next=%2Fhome');
      assert.deepEqual(r.body, { component: 'xak-flow-redirect', to: '/home', final_redirect: true });
    });

    it('a stage that fails: the request id for everyone; the error and its trace for a superuser or a debug user', async () => {
      await createUser(srv, 'err-plain', 'err-plain-password-1');
      const debugUser = await createUser(srv, 'err-debug', 'err-debug-password-1');
      const group = await call(srv, 'POST', '/core/groups/', { name: 'err-debuggers', attributes: { 'goauthentik.io/user/debug': true } });
      assert.equal(group.status, 201, JSON.stringify(group.body));
      assert.equal((await call(srv, 'POST', `/core/groups/${group.body.pk}/add_user/`, { pk: debugUser })).status, 204);
      const login = await createStage(srv, '/stages/user_login/', { name: 'err-login' });
      const ident = await createStage(srv, '/stages/identification/', { name: 'err-ident', user_fields: ['username'] });
      const slug = await flowOf(srv, 'err-flow', [ident, login]);
      const run = async (b: Browser, username: string) => {
        assert.equal((await b.get(slug)).body.component, 'ak-stage-identification');
        return b.solve(slug, { component: 'ak-stage-identification', uidField: username });
      };
      const loggedIn = async (username: string, password: string) => {
        const b = new Browser(srv.api);
        await b.get(FLOW);
        await b.solve(FLOW, { component: 'ak-stage-identification', uidField: username });
        assert.equal((await b.solve(FLOW, { component: 'ak-stage-password', password })).body.component, 'xak-flow-redirect');
        return b;
      };
      const browsers = {
        plain: await loggedIn('err-plain', 'err-plain-password-1'),
        debug: await loggedIn('err-debug', 'err-debug-password-1'),
        admin: await loggedIn('akadmin', ADMIN_PASSWORD),
      };
      // the login stage's write of last_login fails, in the database
      const heal = await failUpdatesOf(srv, dialect, 'users', 'last_login');
      try {
        const plain = await run(browsers.plain, 'err-plain');
        assert.equal(plain.status, 200);
        assert.deepEqual(Object.keys(plain.body).sort(), ['component', 'request_id']);
        assert.equal(plain.body.component, 'ak-stage-flow-error');
        for (const who of ['debug', 'admin'] as const) {
          const r = await run(browsers[who], who === 'admin' ? 'akadmin' : 'err-debug');
          assert.equal(r.body.component, 'ak-stage-flow-error', who);
          assert.equal(typeof r.body.request_id, 'string');
          assert.match(r.body.error, /injected failure/, who);
          assert.match(r.body.traceback, /injected failure[\s\S]*\n\s+at /, who);
        }
      } finally {
        await heal();
      }
      // each failure is recorded, as authentik's handle_exception: a system_exception event with the trace
      const events = await srv.app.store.db
        .selectFrom('events')
        .select(['username', 'context'])
        .where('action', '=', 'system_exception')
        .orderBy('created')
        .execute();
      assert.deepEqual(
        events.map((e) => e.username),
        ['err-plain', 'err-debug', 'akadmin'],
      );
      for (const e of events) assert.match(JSON.parse(e.context).message, /injected failure/);
      // healed: the plan is still at the login stage, which now completes
      assert.equal((await browsers.plain.get(slug)).body.component, 'xak-flow-redirect');
    });
  });
}
