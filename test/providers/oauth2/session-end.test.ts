/**
 * What a login signed into ends with it however the session ends, on SQLite and PostgreSQL: a password set through
 * the API (the person's other sessions end), a deactivation through the API, and a password made unusable by a
 * blueprint (and deactivations by a blueprint) end the OAuth2 tokens issued in those sessions; a deletion through the
 * API tells the application by a back-channel logout token first — userinfo refuses them and they are gone from the
 * database — as a logout does (authentik's AccessToken.session, deleted with the session).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt } from 'jose';
import * as client from 'openid-client';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { oauth2App, type OAuth2App } from './apps.js';
import { Browser, PASSWORD } from './browser.js';
import { importBlueprint } from '../../helpers/blueprints.js';
import { startLogoutReceiver } from '../../helpers/fake-logout-rp.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

for (const dialect of dialects()) {
  describe(`OAuth2 tokens end with the sessions a password change or a deactivation ends (${dialect})`, () => {
    let srv: TestServer;
    let app: OAuth2App;

    before(async () => {
      srv = await startServer(dialect);
      app = await oauth2App(srv, 'rp', { extra: { redirect_uris: [{ matching_mode: 'strict', url: REDIRECT }] } });
    });
    after(async () => srv.close());

    /** `username` logged in, signed into the application: the access token and its subject */
    async function signedIn(username: string) {
      const b = new Browser(srv);
      const done = await b.login(username, '');
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      const url = client.buildAuthorizationUrl(app.config, { redirect_uri: REDIRECT, scope: 'openid profile', state: 's' });
      const tokens = await client.authorizationCodeGrant(app.config, await b.authorize(url), { expectedState: 's' });
      const sub = String(tokens.claims()!.sub);
      assert.equal((await client.fetchUserInfo(app.config, tokens.access_token, sub)).sub, sub);
      return { access: tokens.access_token, sub };
    }
    const refused = async (t: { access: string; sub: string }) => {
      await assert.rejects(client.fetchUserInfo(app.config, t.access, t.sub));
    };
    const tokensOf = async (user: number) =>
      (await srv.app.store.db.selectFrom('oauth2_access_tokens').select('id').where('user_id', '=', user).execute()).length;

    it('a password set through the API', async () => {
      const alice = await createUser(srv, 'alice', PASSWORD);
      const t = await signedIn('alice');
      assert.equal(await tokensOf(alice), 1);
      assert.equal((await call(srv, 'POST', `/core/users/${alice}/set_password/`, { password: `${PASSWORD}-new` })).status, 204);
      await refused(t);
      assert.equal(await tokensOf(alice), 0);
    });

    it('a deactivation through the API', async () => {
      const bob = await createUser(srv, 'bob', PASSWORD);
      const t = await signedIn('bob');
      assert.equal((await call(srv, 'PATCH', `/core/users/${bob}/`, { is_active: false })).status, 200);
      await refused(t);
      assert.equal(await tokensOf(bob), 0);
    });

    /**
     * `body` with the application taking back-channel logout at a receiver on 127.0.0.1 (the logout tokens it got so
     * far in `received`); `toldOf(t)` checks the one token it got names `t`'s subject and session
     */
    async function withBackchannel(body: (received: string[], toldOf: (t: { sub: string }) => void) => Promise<void>) {
      const rp = await startLogoutReceiver();
      const { received } = rp;
      const toldOf = (t: { sub: string }) => {
        assert.equal(received.length, 1);
        const claims = decodeJwt(new URLSearchParams(received[0]).get('logout_token')!);
        assert.equal(claims.sub, t.sub);
        assert.ok(claims.sid, 'the session is named');
      };
      try {
        const patched = await call(srv, 'PATCH', `/providers/oauth2/${app.provider.pk}/`, {
          logout_uri: rp.url,
          logout_method: 'backchannel',
        });
        assert.equal(patched.status, 200);
        await body(received, toldOf);
      } finally {
        await call(srv, 'PATCH', `/providers/oauth2/${app.provider.pk}/`, { logout_uri: '' });
        rp.close();
      }
    }

    it('a person deleted through the API: the application is told by a back-channel logout token', async () => {
      await withBackchannel(async (_received, toldOf) => {
        const gina = await createUser(srv, 'gina', PASSWORD);
        const t = await signedIn('gina');
        assert.equal((await call(srv, 'DELETE', `/core/users/${gina}/`)).status, 204);
        toldOf(t);
        await refused(t);
      });
    });

    it('a person deleted by a blueprint: told by a back-channel logout token; a blueprint that fails ends nothing', async () => {
      await withBackchannel(async (received, toldOf) => {
        const hugo = await createUser(srv, 'hugo', PASSWORD);
        const t = await signedIn('hugo');
        const absent = '  - model: authentik_core.user\n    state: absent\n    identifiers: { username: hugo }\n';
        // a later entry fails: nothing is written, and the person's session and tokens stay
        const broken = `${absent}  - model: authentik_core.group\n    identifiers: { name: x }\n    attrs: { parents: [not-a-group] }\n`;
        const failed = await importBlueprint(srv, `version: 1\nentries:\n${broken}`);
        assert.equal(failed.success, false, JSON.stringify(failed.logs));
        assert.equal(received.length, 0, 'no logout token for a rolled-back deletion');
        assert.equal(await tokensOf(hugo), 1);
        assert.equal((await client.fetchUserInfo(app.config, t.access, t.sub)).sub, t.sub, 'still signed in');
        // applied: the application hears of the session's end, then the person is gone
        const applied = await importBlueprint(srv, `version: 1\nentries:\n${absent}`);
        assert.equal(applied.success, true, JSON.stringify(applied.logs));
        toldOf(t);
        await refused(t);
        const left = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'hugo').execute();
        assert.deepEqual(left, []);
        assert.equal(await tokensOf(hugo), 0);
        const deleted = await call(srv, 'GET', '/events/events/?action=model_deleted&page_size=100');
        const ofHugo = deleted.body.results.filter(
          (e: any) => e.context?.model?.model_name === 'user' && e.context.model.pk === String(hugo),
        );
        assert.equal(ofHugo.length, 1, 'one model_deleted event (the rolled-back run recorded none)');
      });
    });

    it('a person a SCIM source deletes: the application is told by a back-channel logout token first', async () => {
      await withBackchannel(async (_received, toldOf) => {
        const source = await call(srv, 'POST', '/sources/scim/', { name: 'Directory', slug: 'session-end-scim' });
        assert.equal(source.status, 201, JSON.stringify(source.body));
        const key = (await call(srv, 'GET', `/core/tokens/${source.body.token_obj.identifier}/view_key/`)).body.key;
        const scim = (method: string, path: string, body?: unknown) =>
          fetch(`${source.body.root_url}${path}`, {
            method,
            headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/scim+json' } : {}) },
            ...(body ? { body: JSON.stringify(body) } : {}),
          });
        const made = await scim('POST', '/Users', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName: 'iris',
          emails: [{ value: 'iris@example.org', primary: true }],
          active: true,
        });
        assert.equal(made.status, 201);
        const scimId = ((await made.json()) as { id: string }).id;
        const iris = (await call(srv, 'GET', '/core/users/?username=iris')).body.results[0].pk;
        assert.equal((await call(srv, 'POST', `/core/users/${iris}/set_password/`, { password: PASSWORD })).status, 204);
        const t = await signedIn('iris');
        assert.equal((await scim('DELETE', `/Users/${scimId}`)).status, 204);
        toldOf(t);
        await refused(t);
        assert.equal((await call(srv, 'GET', '/core/users/?username=iris')).body.results.length, 0);
      });
    });

    it('two people deactivated by one blueprint', async () => {
      const dora = await createUser(srv, 'dora', PASSWORD);
      const erik = await createUser(srv, 'erik', PASSWORD);
      const d = await signedIn('dora');
      const e = await signedIn('erik');
      const entry = (u: string) => `  - model: authentik_core.user\n    identifiers: { username: ${u} }\n    attrs: { is_active: false }\n`;
      const applied = await importBlueprint(srv, `version: 1\nentries:\n${entry('dora')}${entry('erik')}`);
      assert.equal(applied.success, true, JSON.stringify(applied.logs));
      await refused(d);
      await refused(e);
      assert.equal((await tokensOf(dora)) + (await tokensOf(erik)), 0);
    });

    it('a password made unusable by a blueprint', async () => {
      const carol = await createUser(srv, 'carol', PASSWORD);
      await signedIn('carol');
      assert.equal(await tokensOf(carol), 1);
      const yaml = [
        'version: 1',
        'entries:',
        '  - model: authentik_blueprints.metausersetpassword',
        '    attrs: { user_identifiers: { username: carol }, raw_password: unused, set_unusable: true }',
        '',
      ].join('\n');
      const applied = await importBlueprint(srv, yaml);
      assert.equal(applied.success, true, JSON.stringify(applied.logs));
      assert.equal(await tokensOf(carol), 0);
    });
  });
}
