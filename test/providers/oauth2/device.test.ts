/**
 * The device authorization grant (RFC 8628) as authentik serves it, on SQLite and PostgreSQL, with openid-client as
 * the device: /application/o/device/, the code entry at /device through the brand's `flow_device_code` (the
 * `ak-provider-oauth2-device-code` challenge), the provider's authorization flow with its consent, the approval
 * (`ak-provider-oauth2-device-code-finish`), and the token endpoint's answers (authorization_pending,
 * expired_token, tokens once). Ported scenarios: authentik's test_device_backchannel, test_device_init,
 * test_token_device. Approval and redemption are raced with parallel requests.
 */
import { assertMatches } from '../../helpers/openapi-schema.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { Browser, PASSWORD } from './browser.js';
import { hashOf } from '../../../src/providers/oauth2/tokens/store.js';

const GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

for (const dialect of dialects()) {
  describe(`OAuth2 device authorization grant (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let provider: { client_id: string; client_secret: string; pk: number };
    let config: client.Configuration;
    let brand: string;

    before(async () => {
      srv = await startServer(dialect);
      const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
      flows = Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
      const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      const pm = Object.fromEntries(
        rows.filter((r) => r.managed).map((r) => [r.managed!.replace('goauthentik.io/providers/oauth2/scope-', ''), r.pm_uuid]),
      );
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'TV',
        client_type: 'public',
        authorization_flow: flows['default-provider-authorization-explicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [],
        property_mappings: [pm.openid, pm.email, pm.profile, pm.offline_access],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      provider = p.body;
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'TV app', slug: 'tv', provider: provider.pk })).status, 201);
      await createUser(srv, 'alice', PASSWORD);
      await createUser(srv, 'bob', PASSWORD);
      const dev = await call(srv, 'POST', '/flows/instances/', {
        name: 'device',
        slug: 'device-code',
        title: 'Device code',
        designation: 'stage_configuration',
        authentication: 'require_authenticated',
      });
      assert.equal(dev.status, 201, JSON.stringify(dev.body));
      const b = await call(srv, 'GET', '/core/brands/?default=true');
      brand = b.body.results[0].brand_uuid;
      config = await client.discovery(new URL(`${srv.url}/application/o/tv/`), provider.client_id, undefined, client.None(), {
        execute: [client.allowInsecureRequests],
      });
    });
    after(async () => srv.close());

    const poll = async (deviceCode: string) => {
      const r = await fetch(`${srv.url}/application/o/token/`, {
        method: 'POST',
        body: new URLSearchParams({ grant_type: GRANT, client_id: provider.client_id, device_code: deviceCode }),
      });
      return { status: r.status, body: (await r.json()) as Record<string, any> };
    };

    /** a logged-in browser */
    async function person(username: string) {
      const b = new Browser(srv);
      const done = await b.login(username, '');
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      return b;
    }

    /** GET a Keystage URL without following its redirect */
    async function get(b: Browser, path: string) {
      const r = await fetch(new URL(path, srv.url), { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      return { status: r.status, location: r.headers.get('location') ?? '' };
    }

    it('the device endpoint: authentik’s answer; unknown clients refused', async () => {
      const r = await client.initiateDeviceAuthorization(config, { scope: 'openid email unknown' });
      assert.equal(r.verification_uri, `${srv.url}/device`);
      assert.equal(r.verification_uri_complete, `${srv.url}/device?code=${r.user_code}`);
      assert.match(r.user_code, /^\d{9}$/);
      assert.equal(r.device_code.length, 128);
      assert.equal(r.expires_in, 60);
      assert.equal(r.interval, 5);
      const row = await srv.app.store.db
        .selectFrom('oauth2_device_tokens')
        .selectAll()
        .where('user_code', '=', r.user_code)
        .executeTakeFirstOrThrow();
      assert.equal(row.device_code_hash, hashOf(r.device_code));
      assert.equal(row.scope, 'openid email');
      assert.equal(row.user_id, null);
      for (const body of [{}, { client_id: 'nope' }] as Record<string, string>[]) {
        const bad = await fetch(`${srv.url}/application/o/device/`, { method: 'POST', body: new URLSearchParams(body) });
        assert.equal(bad.status, 400);
        assert.equal(((await bad.json()) as { error: string }).error, 'invalid_client');
      }
      // polling before approval: pending; an unknown code: invalid_grant
      assert.deepEqual((await poll(r.device_code)).body.error, 'authorization_pending');
      assert.equal((await poll(r.device_code)).status, 400);
      assert.equal((await poll('x'.repeat(128))).body.error, 'invalid_grant');
    });

    it('a confidential client redeems its approved device code only with its secret (RFC 8628 §3.4); a grant it does not allow is invalid_grant; the client may be named by HTTP Basic', async () => {
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'Kiosk',
        client_type: 'confidential',
        authorization_flow: flows['default-provider-authorization-explicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Kiosk app', slug: 'kiosk', provider: p.body.pk })).status, 201);
      // the client named by HTTP Basic, as at the token endpoint
      const basic = Buffer.from(`${p.body.client_id}:${p.body.client_secret}`).toString('base64');
      const started = await fetch(`${srv.url}/application/o/device/`, {
        method: 'POST',
        headers: { authorization: `Basic ${basic}` },
        body: new URLSearchParams({ scope: 'openid' }),
      });
      assert.equal(started.status, 200);
      const { device_code, user_code } = (await started.json()) as { device_code: string; user_code: string };
      // approved by alice (as the code entry flow does at its end)
      const alice = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'alice').executeTakeFirstOrThrow();
      await srv.app.store.db.updateTable('oauth2_device_tokens').set({ user_id: alice.id }).where('user_code', '=', user_code).execute();
      const redeem = async (extra: Record<string, string>) => {
        const r = await fetch(`${srv.url}/application/o/token/`, {
          method: 'POST',
          body: new URLSearchParams({ grant_type: GRANT, client_id: p.body.client_id, device_code, ...extra }),
        });
        return { status: r.status, body: (await r.json()) as Record<string, string> };
      };
      const none = await redeem({});
      assert.deepEqual([none.status, none.body.error], [400, 'invalid_client']);
      assert.equal((await redeem({ client_secret: 'not-the-secret' })).body.error, 'invalid_client');
      const ok = await redeem({ client_secret: p.body.client_secret });
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.ok(ok.body.access_token);
      // the grant taken off the provider: invalid_grant, whatever the secret (authentik's grant_type_not_configured)
      assert.equal((await call(srv, 'PATCH', `/providers/oauth2/${p.body.pk}/`, { grant_types: ['authorization_code'] })).status, 200);
      const closed = await redeem({});
      assert.deepEqual([closed.status, closed.body.error], [400, 'invalid_grant']);
    });

    it('without a brand device-code flow /device answers 404', async () => {
      const b = await person('alice');
      assert.equal((await get(b, '/device')).status, 404);
    });

    it('code entry, consent, approval, tokens once; userinfo for the person who approved', async () => {
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_device_code: await flowPk('device-code') })).status, 200);
      const r = await client.initiateDeviceAuthorization(config, { scope: 'openid email profile offline_access' });
      const anonymous = new Browser(srv);
      // nobody logged in: to the login first, back here after
      const toLogin = await get(anonymous, '/device');
      assert.equal(toLogin.location, '/if/flow/default-authentication-flow/?next=%2Fdevice');
      const b = await person('alice');
      const entry = await get(b, '/device');
      assert.equal(entry.location, '/if/flow/device-code/');
      let ch = (await b.executor('device-code')).body;
      assert.equal(ch.component, 'ak-provider-oauth2-device-code');
      assertMatches('OAuthDeviceCodeChallenge', ch);
      ch = (await b.solve('device-code', { component: 'ak-provider-oauth2-device-code', code: '000000000' })).body;
      assert.deepEqual(ch.response_errors, { code: [{ string: 'Invalid code', code: 'invalid' }] });
      ch = (await b.solve('device-code', { component: 'ak-provider-oauth2-device-code', code: r.user_code })).body;
      assert.equal(ch.component, 'xak-flow-redirect');
      assert.equal(ch.to, '/if/flow/default-provider-authorization-explicit-consent/');
      const slug = 'default-provider-authorization-explicit-consent';
      ch = (await b.executor(slug)).body;
      assert.equal(ch.component, 'ak-stage-consent');
      assert.equal(ch.header_text, "You're about to sign into TV app.");
      assert.deepEqual(ch.permissions.map((x: { id: string }) => x.id).sort(), ['email', 'offline_access', 'openid', 'profile']);
      assert.equal((await poll(r.device_code)).body.error, 'authorization_pending');
      ch = (await b.solve(slug, { component: 'ak-stage-consent', token: ch.token })).body;
      assert.equal(ch.component, 'ak-provider-oauth2-device-code-finish');
      assertMatches('OAuthDeviceCodeFinishChallenge', ch);
      // approved: the device gets its tokens (openid-client polls as a device does)
      const tokens = await client.pollDeviceAuthorizationGrant(config, r);
      const claims = tokens.claims()!;
      assert.equal(claims.preferred_username, 'alice');
      assert.equal(claims.email, 'alice@example.com');
      assert.deepEqual(claims.amr, ['pwd']);
      assert.ok(tokens.refresh_token);
      assert.equal(tokens.scope, 'openid email profile offline_access');
      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, 'alice@example.com');
      // the code is gone: a second poll is invalid_grant, the code cannot be entered again
      assert.equal((await poll(r.device_code)).body.error, 'invalid_grant');
      ch = (await b.solve(slug, { component: 'ak-provider-oauth2-device-code-finish' })).body;
      assert.equal(ch.component, 'xak-flow-redirect');
      assert.equal((await get(b, `/device?code=${r.user_code}`)).location, '/if/flow/device-code/?code=' + r.user_code);
    });

    it('verification_uri_complete starts the authorization at once; a refused consent approves nothing', async () => {
      const r = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      const b = await person('bob');
      const entry = await get(b, `/device?code=${r.user_code}`);
      assert.equal(entry.location, '/if/flow/default-provider-authorization-explicit-consent/');
      const ch = (await b.executor('default-provider-authorization-explicit-consent')).body;
      assert.equal(ch.component, 'ak-stage-consent');
      // walking away (cancelling) leaves the code pending
      assert.equal((await poll(r.device_code)).body.error, 'authorization_pending');
    });

    it('an expired code: expired_token; it cannot be entered', async () => {
      const r = await client.initiateDeviceAuthorization(config, { scope: 'openid' });
      await srv.app.store.db
        .updateTable('oauth2_device_tokens')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .where('user_code', '=', r.user_code)
        .execute();
      assert.equal((await poll(r.device_code)).body.error, 'expired_token');
      const b = await person('alice');
      assert.equal((await get(b, `/device?code=${r.user_code}`)).location, `/if/flow/device-code/?code=${r.user_code}`);
      await b.executor('device-code');
      const ch = (await b.solve('device-code', { component: 'ak-provider-oauth2-device-code', code: r.user_code })).body;
      assert.deepEqual(ch.response_errors, { code: [{ string: 'Invalid code', code: 'invalid' }] });
    });

    it('raced: two people approving one code — one wins; eight parallel polls — one gets tokens', async () => {
      const r = await client.initiateDeviceAuthorization(config, { scope: 'openid profile' });
      const slug = 'default-provider-authorization-explicit-consent';
      const people = [await person('alice'), await person('bob')];
      const consents: { token: string }[] = [];
      for (const b of people) {
        assert.equal((await get(b, `/device?code=${r.user_code}`)).location, `/if/flow/${slug}/`);
        consents.push((await b.executor(slug)).body);
      }
      const finals = await Promise.all(people.map((b, i) => b.solve(slug, { component: 'ak-stage-consent', token: consents[i].token })));
      const comps = finals.map((f) => f.body.component).sort();
      assert.deepEqual(comps, ['ak-provider-oauth2-device-code-finish', 'ak-stage-access-denied']);
      const winner = finals.findIndex((f) => f.body.component === 'ak-provider-oauth2-device-code-finish');
      const polls = await Promise.all(Array.from({ length: 8 }, () => poll(r.device_code)));
      const ok = polls.filter((p) => p.status === 200);
      assert.equal(ok.length, 1, JSON.stringify(polls.map((p) => p.body.error ?? 'ok')));
      for (const p of polls.filter((x) => x.status !== 200)) assert.equal(p.body.error, 'invalid_grant');
      const sub = JSON.parse(Buffer.from(ok[0]!.body.access_token.split('.')[1], 'base64url').toString()).preferred_username;
      assert.equal(sub, winner === 0 ? 'alice' : 'bob');
    });

    it('slow_down after 20 device requests an hour from one address, counted atomically in the database', async () => {
      await srv.app.store.db.deleteFrom('mfa_sends').where('scope', '=', 'oauth2_device_ip').execute();
      // 30 requests at once: exactly 20 get a code, whatever their order
      const answers = await Promise.all(
        Array.from({ length: 30 }, async () => {
          const res = await fetch(`${srv.url}/application/o/device/`, {
            method: 'POST',
            body: new URLSearchParams({ client_id: provider.client_id }),
          });
          return { status: res.status, body: (await res.json()) as { error?: string; device_code?: string } };
        }),
      );
      assert.equal(answers.filter((a) => a.status === 200 && a.body.device_code).length, 20);
      const refused = answers.filter((a) => a.status !== 200);
      assert.equal(refused.length, 10);
      for (const a of refused) assert.deepEqual([a.status, a.body.error], [429, 'slow_down']);
      // the count is the database's (every node sees it): one row for this address, at the limit
      const row = await srv.app.store.db
        .selectFrom('mfa_sends')
        .select(['count'])
        .where('scope', '=', 'oauth2_device_ip')
        .executeTakeFirstOrThrow();
      assert.equal(Number(row.count), 20);
    });

    async function flowPk(slug: string) {
      const f = await call(srv, 'GET', `/flows/instances/?slug=${slug}`);
      return f.body.results[0].pk as string;
    }
  });
}
