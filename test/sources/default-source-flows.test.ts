/**
 * authentik's default source flows as a fresh install has them (`default-source-authentication`,
 * `default-source-enrollment`): an OAuth source naming them enrols a person whose identity provider gave no username
 * through the username prompt, skips the prompt when it gave one, and logs the connected user in the next time;
 * neither flow applies outside a flow a source started (`ak_is_sso_flow`).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { sessionRow } from '../helpers/flows.js';
import { FakeOidc } from '../helpers/fake-oidc.js';
import { companySource, throughSource as viaSource } from '../helpers/sources.js';

/** through the source's login to where its callback sends the browser (a 302) */
async function throughSource(srv: TestServer, jar: CookieJar, slug: string): Promise<string> {
  const r = await viaSource(srv, jar, `/source/oauth/login/${slug}/`);
  assert.equal(r.status, 302, r.text);
  return r.location!;
}

for (const dialect of dialects()) {
  describe(`default source flows (${dialect})`, () => {
    let srv: TestServer;
    let fake: FakeOidc;
    before(async () => {
      [srv, fake] = await Promise.all([startServer(dialect), new FakeOidc().start()]);
      await companySource(srv, fake);
    });
    after(async () => Promise.all([srv.close(), fake.close()]));

    it('a fresh install has both flows with authentik’s stages and policies', async () => {
      const enroll = await call(srv, 'GET', '/flows/instances/default-source-enrollment/');
      assert.equal(enroll.body.designation, 'enrollment');
      assert.equal(enroll.body.authentication, 'require_unauthenticated');
      const bindings = await call(srv, 'GET', `/flows/bindings/?target=${enroll.body.pk}&ordering=order`);
      assert.deepEqual(
        bindings.body.results.map((b: { stage_obj: { name: string } }) => b.stage_obj.name),
        ['default-source-enrollment-prompt', 'default-source-enrollment-write', 'default-source-enrollment-login'],
      );
      assert.equal(bindings.body.results[0].evaluate_on_plan, false);
      assert.equal(bindings.body.results[0].re_evaluate_policies, true);
      const policies = await call(srv, 'GET', '/policies/all/?search=default-source');
      assert.deepEqual(policies.body.results.map((p: { name: string }) => p.name).sort(), [
        'default-source-authentication-if-sso',
        'default-source-enrollment-if-sso',
        'default-source-enrollment-if-username',
      ]);
    });

    it('outside a source, neither flow applies', async () => {
      for (const slug of ['default-source-authentication', 'default-source-enrollment']) {
        const c = (await new CookieJar().json(`${srv.api}/flows/executor/${slug}/?query=`)).body;
        assert.equal(c.component, 'ak-stage-access-denied', slug);
      }
    });

    it('asks for a username only when the identity provider gave none, then logs the same identity in again', async () => {
      fake.nextUser = { sub: 'company-1', email: 'first@company.example', name: 'First Person' };
      const jar = new CookieJar();
      assert.equal(await throughSource(srv, jar, 'company'), '/if/flow/default-source-enrollment/');
      const prompt = (await jar.json(`${srv.api}/flows/executor/default-source-enrollment/?query=`)).body;
      assert.equal(prompt.component, 'ak-stage-prompt');
      assert.deepEqual(
        prompt.fields.map((f: { field_key: string }) => f.field_key),
        ['username'],
      );
      const done = (
        await jar.json(`${srv.api}/flows/executor/default-source-enrollment/?query=`, 'POST', {
          component: 'ak-stage-prompt',
          username: 'first',
        })
      ).body;
      assert.equal(done.component, 'xak-flow-redirect');
      const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'first').executeTakeFirstOrThrow();
      assert.equal(user.email, 'first@company.example');
      assert.equal(user.type, 'external');
      assert.equal(user.path, 'goauthentik.io/sources/company');
      // the user write stage records the source (authentik's USER_ATTRIBUTE_SOURCES: the source's name)
      const source = await call(srv, 'GET', '/sources/oauth/company/');
      assert.deepEqual(JSON.parse(user.attributes)['goauthentik.io/user/sources'], [source.body.name]);
      assert.equal((await sessionRow(srv, jar.cookies.get('authentik_session')))?.user_id, user.id);

      // a username from the provider: no prompt
      fake.nextUser = { sub: 'company-2', email: 'second@company.example', preferred_username: 'second' };
      const jar2 = new CookieJar();
      await throughSource(srv, jar2, 'company');
      const straight = (await jar2.json(`${srv.api}/flows/executor/default-source-enrollment/?query=`)).body;
      assert.equal(straight.component, 'xak-flow-redirect');
      assert.ok(await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'second').executeTakeFirst());

      // the first identity again: the authentication flow, the same user
      fake.nextUser = { sub: 'company-1', email: 'first@company.example' };
      const jar3 = new CookieJar();
      assert.equal(await throughSource(srv, jar3, 'company'), '/if/flow/default-source-authentication/');
      const back = (await jar3.json(`${srv.api}/flows/executor/default-source-authentication/?query=`)).body;
      assert.equal(back.component, 'xak-flow-redirect');
      assert.equal((await sessionRow(srv, jar3.cookies.get('authentik_session')))?.user_id, user.id);
    });

    it('a source deleted while the person is at the username prompt: the enrolment ends without the link, not in an error', async () => {
      const doomed = await call(srv, 'POST', '/sources/oauth/', {
        ...(await call(srv, 'GET', '/sources/oauth/company/')).body,
        name: 'Doomed',
        slug: 'doomed',
        consumer_secret: fake.clientSecret,
      });
      assert.equal(doomed.status, 201, JSON.stringify(doomed.body));
      fake.nextUser = { sub: 'doomed-1', email: 'late@company.example', name: 'Late Person' };
      const jar = new CookieJar();
      assert.equal(await throughSource(srv, jar, 'doomed'), '/if/flow/default-source-enrollment/');
      assert.equal((await jar.json(`${srv.api}/flows/executor/default-source-enrollment/?query=`)).body.component, 'ak-stage-prompt');
      assert.equal((await call(srv, 'DELETE', '/sources/oauth/doomed/')).status, 204);
      const done = (
        await jar.json(`${srv.api}/flows/executor/default-source-enrollment/?query=`, 'POST', {
          component: 'ak-stage-prompt',
          username: 'late',
        })
      ).body;
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      const user = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'late').executeTakeFirstOrThrow();
      assert.equal((await sessionRow(srv, jar.cookies.get('authentik_session')))?.user_id, user.id);
      assert.deepEqual(
        await srv.app.store.db.selectFrom('user_source_connections').select('id').where('user_id', '=', user.id).execute(),
        [],
      );
    });
  });
}
