/**
 * The source stage (authentik's enterprise `authentik_stages_source`; its tests' scenarios) against a fake OpenID
 * Connect provider on 127.0.0.1: a flow is suspended at the stage, the person signs in at the source, the source's
 * own flow runs and the suspended flow resumes and finishes; a posted response does not skip the source; a source
 * that vouches for someone else than the flow's user does not resume it; an expired suspension is refused;
 * `resume_on_match_failures` resumes a flow when the provider left out the matching property (and only then); the
 * API through the official client, and deleting the source deletes the stage.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { FakeOidc } from '../../helpers/fake-oidc.js';
import { companySource, throughSource } from '../../helpers/sources.js';
import { createStage, createUser, flowOf, sessionRow } from '../../helpers/flows.js';
import { body, clients, failure } from '../../rest/contract/client.js';

const tokensOf = async (srv: TestServer) =>
  (await srv.app.store.db.selectFrom('flow_tokens').select(['identifier']).execute()).map((t) => t.identifier);

for (const dialect of dialects()) {
  describe(`source stage (${dialect})`, () => {
    let srv: TestServer;
    let fake: FakeOidc;
    let source: string;
    let ident: string;
    let password: string;
    let login: string;

    /** a flow: identification, password, the source stage (with `extra`), user login */
    async function flowWithSourceStage(slug: string, extra: Record<string, unknown> = {}): Promise<string> {
      const stage = await createStage(srv, '/stages/source/', { name: `${slug}-stage`, source, ...extra });
      await flowOf(srv, slug, [ident, password, stage, login]);
      return stage;
    }

    /** logs `username` in up to the source stage; the redirect challenge it answers with */
    async function upToSource(slug: string, username: string, pass: string): Promise<{ b: Browser; challenge: any }> {
      const b = new Browser(srv.api);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: username } as never);
      const r = await b.solve(slug, { component: 'ak-stage-password', password: pass } as never);
      return { b, challenge: r.body };
    }

    before(async () => {
      [srv, fake] = await Promise.all([startServer(dialect), new FakeOidc().start()]);
      source = await companySource(srv, fake, { user_matching_mode: 'email_link' });
      ident = await createStage(srv, '/stages/identification/', { name: 'src-ident', user_fields: ['username'] });
      password = await createStage(srv, '/stages/password/', { name: 'src-password', backends: ['authentik.core.auth.InbuiltBackend'] });
      login = await createStage(srv, '/stages/user_login/', { name: 'src-login' });
      await createUser(srv, 'alice', 'alice-password-1', { email: 'alice@company.example' });
      await createUser(srv, 'bob', 'bob-password-1', { email: 'bob@company.example' });
    });
    after(async () => Promise.all([srv.close(), fake.close()]));

    it('API: create and read through the official client; a source is required; unknown failure reasons are a 400', async () => {
      const api = clients(srv).stages;
      const created = await body(api.stagesSourceCreateRaw({ sourceStageRequest: { name: 'api-source', source } }));
      assertMatches('SourceStage', created);
      assert.deepEqual(
        [created.source, created.resume_timeout, created.resume_on_match_failures, created.component],
        [source, 'minutes=10', [], 'ak-stage-source-form'],
      );
      const listed = await body(api.stagesSourceListRaw({ source }));
      assertMatches('PaginatedSourceStageList', listed);
      assert.ok(listed.results.some((s: { name: string }) => s.name === 'api-source'));
      const missing = await call(srv, 'POST', '/stages/source/', { name: 'no-source' });
      assert.equal(missing.status, 400);
      assert.ok(missing.body.source);
      const bad = await failure(
        api.stagesSourceCreateRaw({
          sourceStageRequest: { name: 'bad', source, resumeTimeout: 'soon', resumeOnMatchFailures: ['anything' as never] },
        }),
      );
      assert.equal(bad.status, 400);
      assert.ok(bad.body.resume_timeout && bad.body.resume_on_match_failures, JSON.stringify(bad.body));
      assert.equal((await call(srv, 'DELETE', `/stages/source/${created.pk}/`)).status, 204);
    });

    it('the flow is suspended at the stage, the person signs in at the source, and the flow resumes and finishes', async () => {
      await flowWithSourceStage('with-source');
      const { b, challenge } = await upToSource('with-source', 'alice', 'alice-password-1');
      assert.deepEqual([challenge.component, challenge.to], ['xak-flow-redirect', '/source/oauth/login/company/']);
      assert.ok((await tokensOf(srv)).some((t) => t.startsWith('ak-source-stage-with-source-stage-')));
      // a response posted to the stage does not pass it
      const posted = await b.solve('with-source', { component: 'xak-flow-redirect' } as never);
      assert.equal(posted.body.to, '/source/oauth/login/company/');
      assert.equal((await b.me()).status, 403);

      fake.nextUser = { sub: 'company-alice', email: 'alice@company.example', name: 'Alice' };
      const back = await throughSource(srv, b.jar, challenge.to);
      assert.equal(back.location, '/if/flow/default-source-authentication/', back.text);
      const sourceFlow = await b.get('default-source-authentication');
      assert.deepEqual([sourceFlow.body.component, sourceFlow.body.to], ['xak-flow-redirect', '/if/flow/with-source/']);
      const resumed = await b.get('with-source');
      assert.equal(resumed.body.component, 'xak-flow-redirect', JSON.stringify(resumed.body));
      assert.equal((await b.me()).body.user.username, 'alice');
      // the connection is stored, the suspension used up
      const connections = await call(srv, 'GET', '/sources/user_connections/oauth/?source__slug=company');
      assert.ok(connections.body.results.some((c: { identifier: string }) => c.identifier === 'company-alice'));
      assert.ok(!(await tokensOf(srv)).some((t) => t.startsWith('ak-source-stage-with-source-stage-')));
      assert.ok(!JSON.stringify((await sessionRow(srv, b.session))?.data ?? '').includes('suspended flow'));
    });

    it('a source vouching for another person does not resume the flow of the first', async () => {
      await flowWithSourceStage('other-person');
      const { b, challenge } = await upToSource('other-person', 'alice', 'alice-password-1');
      fake.nextUser = { sub: 'company-bob', email: 'bob@company.example', name: 'Bob' };
      await throughSource(srv, b.jar, challenge.to);
      const end = await b.get('default-source-authentication');
      assert.equal(end.body.component, 'ak-stage-access-denied');
      assert.equal(end.body.error_message, 'The account the source signed in is not the one this flow was signing in.');
      // alice's flow was not resumed: nothing of it logged anyone in as alice
      assert.notEqual((await b.me()).body?.user?.username, 'alice');
      assert.ok(!(await tokensOf(srv)).some((t) => t.startsWith('ak-source-stage-other-person-stage-')));
    });

    it('an expired suspension is refused and forgotten', async () => {
      await flowWithSourceStage('expiring');
      const { b, challenge } = await upToSource('expiring', 'alice', 'alice-password-1');
      await srv.app.store.db
        .updateTable('flow_tokens')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .where('identifier', 'like', 'ak-source-stage-expiring-stage-%')
        .execute();
      fake.nextUser = { sub: 'company-alice', email: 'alice@company.example' };
      await throughSource(srv, b.jar, challenge.to);
      const end = await b.get('default-source-authentication');
      assert.equal(end.body.component, 'ak-stage-access-denied');
      assert.match(end.body.error_message, /no longer waiting for you/);
      assert.ok(!JSON.stringify((await sessionRow(srv, b.session))?.data ?? '').includes('suspended flow'));
    });

    it('resume_on_match_failures: a missing e-mail resumes the flow without the source; without it the source refuses', async () => {
      await flowWithSourceStage('resume-missing', { resume_on_match_failures: ['missing_property'] });
      const { b, challenge } = await upToSource('resume-missing', 'alice', 'alice-password-1');
      fake.nextUser = { sub: 'no-email-1' };
      const back = await throughSource(srv, b.jar, challenge.to);
      assert.equal(back.status, 302, back.text);
      assert.equal(back.location, '/if/flow/resume-missing/');
      const done = await b.get('resume-missing');
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal((await b.me()).body.user.username, 'alice');
      const connections = await call(srv, 'GET', '/sources/user_connections/oauth/?source__slug=company');
      assert.ok(!connections.body.results.some((c: { identifier: string }) => c.identifier === 'no-email-1'));

      await flowWithSourceStage('no-resume');
      const second = await upToSource('no-resume', 'alice', 'alice-password-1');
      fake.nextUser = { sub: 'no-email-2' };
      const refused = await throughSource(srv, second.b.jar, second.challenge.to);
      assert.equal(refused.status, 403);
      assert.match(refused.text, /has been denied/);
      // the suspension is still there for a later try within its timeout
      assert.ok((await tokensOf(srv)).some((t) => t.startsWith('ak-source-stage-no-resume-stage-')));
    });

    it("deleting the source deletes its stages (listed in the source's used_by)", async () => {
      const made = await call(srv, 'POST', '/sources/oauth/', {
        name: 'Doomed',
        slug: 'doomed',
        provider_type: 'openidconnect',
        consumer_key: 'x',
        consumer_secret: 'y',
        authorization_url: `${fake.url}/authorize`,
        access_token_url: `${fake.url}/token`,
        profile_url: `${fake.url}/userinfo`,
      });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const stage = await createStage(srv, '/stages/source/', { name: 'doomed-stage', source: made.body.pk });
      const usedBy = await call(srv, 'GET', `/sources/oauth/doomed/used_by/`);
      assert.deepEqual(
        usedBy.body.map((u: Record<string, string>) => [u.model_name, u.name, u.action]),
        [['sourcestage', 'doomed-stage', 'cascade']],
      );
      assert.equal((await call(srv, 'DELETE', '/sources/oauth/doomed/')).status, 204);
      assert.equal((await call(srv, 'GET', `/stages/source/${stage}/`)).status, 404);
      assert.equal((await call(srv, 'GET', `/stages/all/${stage}/`)).status, 404);
    });
  });
}
