/**
 * The person's own settings flows of a fresh install, through the executor with the official client: the user
 * settings flow (pre-filled from the user, writes the user, refuses what group attributes forbid, never writes a
 * field it does not prompt for) and the password change (policy, the hash changes, the other sessions end, the
 * current one stays); the brand names the settings flow and the password stage's configure_flow the change.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createUser, sessionRow } from '../helpers/flows.js';

const LOGIN = 'default-authentication-flow';
const SETTINGS = 'default-user-settings-flow';
const CHANGE = 'default-password-change';

for (const dialect of dialects()) {
  describe(`user settings flows (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    const db = () => srv.app.store.db;

    async function loggedIn(username: string, password: string): Promise<Browser> {
      const b = new Browser(srv.api);
      await b.get(LOGIN);
      await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: username });
      assert.equal((await b.solve(LOGIN, { component: 'ak-stage-password', password })).body.component, 'xak-flow-redirect');
      assert.equal((await b.me()).status, 200);
      return b;
    }

    it("a fresh install has authentik's flows, named by the brand and the password stage", async () => {
      const settings = await call(srv, 'GET', `/flows/instances/${SETTINGS}/`);
      assert.equal(settings.status, 200);
      assert.equal(settings.body.designation, 'stage_configuration');
      assert.equal(settings.body.authentication, 'require_authenticated');
      assert.equal(settings.body.title, 'Update your info');
      const change = await call(srv, 'GET', `/flows/instances/${CHANGE}/`);
      assert.equal(change.body.title, 'Change password');
      assert.equal((await call(srv, 'GET', '/core/brands/current/')).body.flow_user_settings, SETTINGS);
      const pw = (await call(srv, 'GET', '/stages/password/?name=default-authentication-password')).body.results[0];
      assert.equal(pw.configure_flow, change.body.pk);
      for (const slug of ['default-authenticator-totp-setup', 'default-authenticator-static-setup', 'default-authenticator-webauthn-setup'])
        assert.equal((await call(srv, 'GET', `/flows/instances/${slug}/`)).body.designation, 'stage_configuration', slug);
    });

    it('/stages/all/user_settings/ offers the password change and the setup stages, each with its configure URL', async () => {
      await createUser(srv, 'settings-lister', 'lister-password-1');
      const b = await loggedIn('settings-lister', 'lister-password-1');
      const r = await b.fetch('/stages/all/user_settings/');
      assert.equal(r.status, 200);
      const stage = async (path: string, name: string) => (await call(srv, 'GET', `${path}?name=${name}`)).body.results[0].pk;
      const pw = await stage('/stages/password/', 'default-authentication-password');
      const totp = await stage('/stages/authenticator/totp/', 'default-authenticator-totp-setup');
      const stat = await stage('/stages/authenticator/static/', 'default-authenticator-static-setup');
      const webauthn = await stage('/stages/authenticator/webauthn/', 'default-authenticator-webauthn-setup');
      const byUid = new Map(r.body.map((s: { object_uid: string }) => [s.object_uid, s]));
      assert.deepEqual(byUid.get(pw), {
        title: 'Password Stage',
        component: 'ak-user-settings-password',
        object_uid: pw,
        configure_url: `/flows/-/configure/${pw}/`,
      });
      assert.deepEqual(byUid.get(totp), {
        title: 'TOTP Authenticator Setup Stage',
        component: 'ak-user-settings-authenticator-totp',
        object_uid: totp,
        configure_url: `/flows/-/configure/${totp}/`,
      });
      assert.equal((byUid.get(stat) as { title: string }).title, 'Static tokens', 'the friendly name');
      assert.equal((byUid.get(webauthn) as { component: string }).component, 'ak-user-settings-authenticator-webauthn');
      assert.equal((await new Browser(srv.api).fetch('/stages/all/user_settings/')).status, 403);
    });

    it('is for logged-in people only', async () => {
      const b = new Browser(srv.api);
      assert.equal((await b.get(SETTINGS)).body.component, 'ak-stage-access-denied');
    });

    it('shows the user as they are, and writes what they change', async () => {
      const id = await createUser(srv, 'settings-user', 'settings-password-1', { attributes: { settings: { locale: 'de' }, keep: 1 } });
      const b = await loggedIn('settings-user', 'settings-password-1');
      const first = await b.get(SETTINGS);
      assert.equal(first.body.component, 'ak-stage-prompt');
      assert.deepEqual(
        first.body.fields.map((f: { field_key: string; initial_value: string }) => [f.field_key, f.initial_value]),
        [
          ['username', 'settings-user'],
          ['name', 'settings-user Example'],
          ['email', 'settings-user@example.com'],
          ['attributes.settings.locale', 'de'],
        ],
      );
      const bad = await b.solve(SETTINGS, {
        component: 'ak-stage-prompt',
        username: 'settings-user',
        name: 'Renamed',
        email: 'not an address',
        'attributes.settings.locale': 'fr',
      } as never);
      assert.equal(bad.body.response_errors.email[0].string, 'Enter a valid email address.');
      const done = await b.solve(SETTINGS, {
        component: 'ak-stage-prompt',
        username: 'settings-user',
        name: 'Renamed Person',
        email: 'renamed@example.com',
        'attributes.settings.locale': 'fr',
      } as never);
      assert.equal(done.body.component, 'xak-flow-redirect');
      const user = (await call(srv, 'GET', `/core/users/${id}/`)).body;
      assert.equal(user.name, 'Renamed Person');
      assert.equal(user.email, 'renamed@example.com');
      assert.deepEqual(user.attributes, { settings: { locale: 'fr' }, keep: 1 });
      assert.equal((await b.me()).status, 200, 'still logged in');
      // the next run shows the new values
      const again = await b.get(SETTINGS);
      assert.equal(again.body.fields[1].initial_value, 'Renamed Person');
    });

    it('never writes a field it does not prompt for (superuser, groups, active, attributes)', async () => {
      const id = await createUser(srv, 'settings-sneaky', 'sneaky-password-1');
      const b = await loggedIn('settings-sneaky', 'sneaky-password-1');
      await b.get(SETTINGS);
      const r = await b.fetch(`/flows/executor/${SETTINGS}/?query=`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-authentik-csrf': b.jar.cookies.get('authentik_csrf') ?? '' },
        body: JSON.stringify({
          component: 'ak-stage-prompt',
          username: 'settings-sneaky',
          name: 'Sneaky',
          email: 'sneaky@example.com',
          'attributes.settings.locale': '',
          is_superuser: true,
          is_active: false,
          type: 'service_account',
          groups: ['00000000-0000-0000-0000-000000000000'],
          attributes: { admin: true },
          'attributes.goauthentik.io/user/can-change-username': false,
          password: 'a-new-password-sneaked-in',
        }),
      });
      assert.equal(r.body.component, 'xak-flow-redirect');
      const user = (await call(srv, 'GET', `/core/users/${id}/`)).body;
      assert.equal(user.name, 'Sneaky');
      assert.equal(user.is_superuser, false);
      assert.equal(user.is_active, true);
      assert.equal(user.type, 'internal');
      assert.deepEqual(user.groups, []);
      assert.deepEqual(user.attributes, { settings: { locale: '' } });
      // the password did not change
      await loggedIn('settings-sneaky', 'sneaky-password-1');
    });

    it('refuses a change a group attribute forbids, and allows the others', async () => {
      const group = await call(srv, 'POST', '/core/groups/', {
        name: 'no-username-change',
        attributes: { 'goauthentik.io/user/can-change-username': false },
      });
      assert.equal(group.status, 201);
      const id = await createUser(srv, 'settings-locked', 'locked-password-1', { groups: [group.body.pk] });
      const b = await loggedIn('settings-locked', 'locked-password-1');
      await b.get(SETTINGS);
      const refused = await b.solve(SETTINGS, {
        component: 'ak-stage-prompt',
        username: 'settings-renamed',
        name: 'Locked',
        email: 'settings-locked@example.com',
        'attributes.settings.locale': '',
      } as never);
      assert.deepEqual(refused.body.response_errors, {
        non_field_errors: [{ string: 'Not allowed to change username.', code: 'invalid' }],
      });
      assert.equal((await call(srv, 'GET', `/core/users/${id}/`)).body.username, 'settings-locked');
      const ok = await b.solve(SETTINGS, {
        component: 'ak-stage-prompt',
        username: 'settings-locked',
        name: 'Locked but renamed',
        email: 'settings-locked@example.com',
        'attributes.settings.locale': '',
      } as never);
      assert.equal(ok.body.component, 'xak-flow-redirect');
      assert.equal((await call(srv, 'GET', `/core/users/${id}/`)).body.name, 'Locked but renamed');
    });

    it('a password change checks the policy, changes the hash and ends the other sessions', async () => {
      const id = await createUser(srv, 'pw-changer', 'first-password-1');
      const other = await loggedIn('pw-changer', 'first-password-1');
      const b = await loggedIn('pw-changer', 'first-password-1');
      const before = await db()
        .selectFrom('users')
        .select(['password', 'password_change_date'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();

      // through the password stage's configure_flow, as the user page links it
      const pw = (await call(srv, 'GET', '/stages/password/?name=default-authentication-password')).body.results[0];
      const start = await fetch(`${srv.url}/flows/-/configure/${pw.pk}/?next=%2Fif%2Fuser%2F`, {
        headers: b.jar.headers(),
        redirect: 'manual',
      });
      assert.equal(start.status, 302);
      assert.equal(start.headers.get('location'), `/if/flow/${CHANGE}/?next=%2Fif%2Fuser%2F`);
      const first = await b.get(CHANGE, 'next=%2Fif%2Fuser%2F');
      assert.equal(first.body.component, 'ak-stage-prompt');
      assert.deepEqual(
        first.body.fields.map((f: { field_key: string }) => f.field_key),
        ['password', 'password_repeat'],
      );
      const differ = await b.solve(CHANGE, { component: 'ak-stage-prompt', password: 'a-new-secret-9', password_repeat: 'other' } as never);
      assert.deepEqual(differ.body.response_errors, { non_field_errors: [{ string: "Passwords don't match.", code: 'invalid' }] });
      const weak = await b.solve(CHANGE, { component: 'ak-stage-prompt', password: 'short', password_repeat: 'short' } as never);
      assert.ok(weak.body.response_errors.password.length, JSON.stringify(weak.body));
      const done = await b.solve(
        CHANGE,
        { component: 'ak-stage-prompt', password: 'Correct-Horse-Battery-42', password_repeat: 'Correct-Horse-Battery-42' } as never,
        'next=%2Fif%2Fuser%2F',
      );
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal(done.body.to, '/if/user/');

      const after = await db()
        .selectFrom('users')
        .select(['password', 'password_change_date'])
        .where('id', '=', id)
        .executeTakeFirstOrThrow();
      assert.notEqual(after.password, before.password, 'the hash changed');
      assert.notEqual(after.password_change_date, before.password_change_date, 'remembered MFA checks are void');
      assert.equal((await b.me()).status, 200, 'this session stays');
      assert.equal((await other.me()).status, 403, 'the other session ended');
      assert.equal(await sessionRow(srv, other.session), undefined);
      await loggedIn('pw-changer', 'Correct-Horse-Battery-42');
    });
  });
}
