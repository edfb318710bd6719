/**
 * Browser user switching (authentik 2026.8; SQLite and PostgreSQL): `POST /core/users/switch/` adds another login
 * to a browser through the authentication flow and switches between the logins it holds through the brand's
 * `flow_user_switch`; `/core/users/me/`'s `users` lists them; the login left stays usable and holds no flow; a switch
 * needs a live login of that user in this browser, a switch flow the caller may run, and a browser session.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT } from 'jose';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, createUser, flowOf, loggedIn } from '../helpers/flows.js';
import type { Browser } from '../helpers/browser.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { callAs, tokenFor } from '../groups/setup.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

const AUTH = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`user switching (${dialect})`, () => {
    let srv: TestServer;
    let brand: string;
    let switchFlow: string;
    const ids: Record<string, number> = {};

    before(async () => {
      srv = await startServer(dialect);
      for (const name of ['us-alice', 'us-bob', 'us-carol', 'us-mallory']) ids[name] = await createUser(srv, name, `${name}-password-1`);
      const login = await createStage(srv, '/stages/user_login/', { name: 'us-switch-login' });
      switchFlow = await flowOf(srv, 'us-switch-flow', [login]);
      brand = (await call(srv, 'GET', '/core/brands/?page_size=100')).body.results.find((b: { default: boolean }) => b.default).brand_uuid;
    });
    after(async () => srv.close());

    const enable = async (on: boolean) => {
      const flow = on ? (await call(srv, 'GET', `/flows/instances/${switchFlow}/`)).body.pk : null;
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_user_switch: flow })).status, 200);
    };
    const switchAs = (b: Browser, body: unknown, query = '') =>
      b.fetch(`/core/users/switch/${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const me = async (b: Browser) => {
      const r = await b.me();
      assert.equal(r.status, 200);
      assertMatches('SessionUser', r.body);
      return { user: r.body.user.username as string, users: (r.body.users as { username: string }[]).map((u) => u.username) };
    };
    /** logs `user` in beside whoever the browser is (the add action, then the authentication flow) */
    const addLogin = async (b: Browser, user: string) => {
      assert.equal((await switchAs(b, { action: 'add' })).status, 200);
      await b.get(AUTH);
      await b.solve(AUTH, { component: 'ak-stage-identification', uidField: user });
      await b.solve(AUTH, { component: 'ak-stage-password', password: `${user}-password-1` });
    };
    const sessionsOf = (user: string) => srv.app.store.db.selectFrom('sessions').selectAll().where('user_id', '=', ids[user]!).execute();

    it('disabled without a switch flow: 400, and /me lists only the caller', async () => {
      await enable(false);
      const b = await loggedIn(srv, 'us-alice', 'us-alice-password-1');
      assert.deepEqual(await switchAs(b, { action: 'add' }).then((r) => [r.status, r.body]), [
        400,
        { non_field_errors: ['User switching is disabled.'] },
      ]);
      assert.deepEqual(await me(b), { user: 'us-alice', users: ['us-alice'] });
    });

    it('add another login, switch back and forth; the login left stays and holds no flow', async () => {
      await enable(true);
      const b = await loggedIn(srv, 'us-alice', 'us-alice-password-1');
      const aliceKey = b.session!;
      assert.deepEqual(await me(b), { user: 'us-alice', users: ['us-alice'] });
      assert.ok(b.jar.cookies.get('authentik_user_switching'), 'the browser got its token');

      const add = await switchAs(b, { action: 'add' }, '?next=%2Fif%2Fuser%2F');
      assert.equal(add.status, 200, JSON.stringify(add.body));
      assertMatches('UserSwitchResponse', add.body);
      assert.equal(add.body.redirect, `${srv.url}/if/flow/${AUTH}/?next=%2Fif%2Fuser%2F`);
      // (the page passes its query string to the executor, as the flow page does)
      const q = new URL(add.body.redirect).search.slice(1);
      assert.equal((await b.get(AUTH, q)).body.component, 'ak-stage-identification');
      await b.solve(AUTH, { component: 'ak-stage-identification', uidField: 'us-bob' }, q);
      const done = await b.solve(AUTH, { component: 'ak-stage-password', password: 'us-bob-password-1' }, q);
      assert.deepEqual([done.body.component, done.body.to], ['xak-flow-redirect', '/if/user/']);
      assert.notEqual(b.session, aliceKey, 'bob has a session of his own');
      assert.deepEqual(await me(b), { user: 'us-bob', users: ['us-bob', 'us-alice'] });
      // alice's login is as it was, without the flow it started, in the same browser
      const alice = await srv.app.store.db
        .selectFrom('sessions')
        .selectAll()
        .where('session_key', '=', sessionKeyOf(aliceKey))
        .executeTakeFirstOrThrow();
      assert.equal(alice.user_id, ids['us-alice']);
      assert.equal(JSON.parse(alice.data).plan, undefined);
      const [bob] = await sessionsOf('us-bob');
      assert.equal(bob!.switch_token, alice.switch_token);
      const loginEvents = await call(srv, 'GET', '/events/events/?actions=login&username=us-bob');
      assert.equal(loginEvents.body.pagination.count, 1);

      // back to alice through the switch flow (a login stage alone: holding her live login is the proof)
      const back = await switchAs(b, { user_pk: ids['us-alice'] });
      assert.equal(back.status, 200, JSON.stringify(back.body));
      assert.equal(back.body.redirect, `${srv.url}/if/flow/us-switch-flow/`);
      assert.equal((await b.get('us-switch-flow')).body.component, 'xak-flow-redirect');
      assert.deepEqual(await me(b), { user: 'us-alice', users: ['us-alice', 'us-bob'] });
      // her old login was replaced by the new one; bob's stays
      const aliceNow = await sessionsOf('us-alice');
      assert.equal(aliceNow.filter((s) => s.switch_token === alice.switch_token).length, 1);
      assert.ok(!aliceNow.some((s) => s.session_key === sessionKeyOf(aliceKey)));
      assert.equal((await sessionsOf('us-bob')).filter((s) => s.session_key === bob!.session_key).length, 1);

      // nothing to switch to: oneself, someone this browser holds no login of; user_pk is needed to switch
      assert.equal((await switchAs(b, { user_pk: ids['us-alice'] })).status, 404);
      assert.equal((await switchAs(b, { user_pk: ids['us-carol'] })).status, 404);
      assert.deepEqual(await switchAs(b, { action: 'switch' }).then((r) => [r.status, r.body]), [
        400,
        { user_pk: ['This field is required.'] },
      ]);
      assert.deepEqual(await switchAs(b, { action: 'leave' }).then((r) => [r.status, r.body]), [
        400,
        { action: ['"leave" is not a valid choice.'] },
      ]);
      // an API token holds no logins
      const token = await tokenFor(srv, ids['us-alice']!, 'us-alice-key-0123456789abcdefghijklmnopqr');
      assert.deepEqual(await callAs(srv, token, 'POST', '/core/users/switch/', { action: 'add' }).then((r) => [r.status, r.body]), [
        400,
        { non_field_errors: ['User switching needs a browser session.'] },
      ]);
    });

    it('a target that ended meanwhile is refused, and the browser stays who it was', async () => {
      await enable(true);
      const b = await loggedIn(srv, 'us-carol', 'us-carol-password-1');
      await addLogin(b, 'us-mallory');
      assert.deepEqual(await me(b), { user: 'us-mallory', users: ['us-mallory', 'us-carol'] });
      assert.equal((await switchAs(b, { user_pk: ids['us-carol'] })).status, 200);
      // carol's login ends (another tab logged her out) before the switch flow runs
      await srv.app.store.db.deleteFrom('sessions').where('user_id', '=', ids['us-carol']!).execute();
      const denied = await b.get('us-switch-flow');
      assert.deepEqual(
        [denied.body.component, denied.body.error_message],
        ['ak-stage-access-denied', 'The selected session is no longer available. Please try again.'],
      );
      assert.deepEqual(await me(b), { user: 'us-mallory', users: ['us-mallory'] });
    });

    it('the switch flow’s policies decide for the person switching; a forged browser cookie holds nothing', async () => {
      await enable(true);
      const b = await loggedIn(srv, 'us-bob', 'us-bob-password-1');
      await addLogin(b, 'us-carol');
      const flowPk = (await call(srv, 'GET', `/flows/instances/${switchFlow}/`)).body.pk;
      const policy = await call(srv, 'POST', '/policies/expression/', {
        name: 'us-only-bob',
        expression: 'return request.user.username == "us-bob"',
      });
      assert.equal(policy.status, 201);
      const binding = await call(srv, 'POST', '/policies/bindings/', { target: flowPk, policy: policy.body.pk, order: 0 });
      assert.equal(binding.status, 201);
      try {
        // carol may not run it: no switch back to bob
        assert.equal((await switchAs(b, { user_pk: ids['us-bob'] })).status, 404);
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${binding.body.pk}/`);
      }
      assert.equal((await switchAs(b, { user_pk: ids['us-bob'] })).status, 200);

      // another browser with a token cookie of its own making sees only its own login
      const m = await loggedIn(srv, 'us-mallory', 'us-mallory-password-1');
      const bobToken = (await sessionsOf('us-bob')).find((s) => s.switch_token)!.switch_token!;
      const forged = await new SignJWT({ user_switching: bobToken })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer('authentik')
        .setSubject('user_switching')
        .sign(new TextEncoder().encode('not the server key'));
      m.jar.cookies.set('authentik_user_switching', forged);
      assert.deepEqual(await me(m), { user: 'us-mallory', users: ['us-mallory'] });
      assert.equal((await switchAs(m, { user_pk: ids['us-bob'] })).status, 404);
    });
  });
}
