/**
 * The authorization request's hints and prompts beyond the basics, and front-channel logout, against a running
 * Keystage with openid-client, on SQLite and PostgreSQL: `login_hint` (the login flow starts with the identifier,
 * the identification stage submits it), `id_token_hint` with `prompt=none` (someone else logged in:
 * login_required), `prompt=consent` adding authentik's in-memory consent stage to a flow without one, and
 * `logout_method: frontchannel` (authentik's ak-provider-iframe-logout challenge with the logout URL, `iss` and
 * `sid`) from the application's end-session endpoint and from a Keystage logout.
 */
import { assertMatches } from '../../helpers/openapi-schema.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { Browser, PASSWORD } from './browser.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const LOGGED_OUT = 'http://127.0.0.1:9/bye';
const FRONT = 'http://127.0.0.1:9/frontchannel?tenant=t1';

for (const dialect of dialects()) {
  describe(`OAuth2 authorize hints, prompt=consent, front-channel logout (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let pm: Record<string, string>;
    const configs: Record<string, client.Configuration> = {};

    async function app(slug: string, extra: Record<string, unknown> = {}) {
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: `p-${slug}`,
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-invalidation-flow'],
        redirect_uris: [
          { matching_mode: 'strict', url: REDIRECT },
          { matching_mode: 'strict', url: LOGGED_OUT, redirect_uri_type: 'logout' },
        ],
        property_mappings: [pm.openid, pm.email, pm.profile, pm.offline_access],
        ...extra,
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: `App ${slug}`, slug, provider: p.body.pk })).status, 201);
      configs[slug] = await client.discovery(
        new URL(`${srv.url}/application/o/${slug}/`),
        p.body.client_id,
        { client_secret: p.body.client_secret, id_token_signed_response_alg: 'HS256' },
        undefined,
        { execute: [client.allowInsecureRequests] },
      );
    }

    before(async () => {
      srv = await startServer(dialect);
      const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
      flows = Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
      const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      pm = Object.fromEntries(
        rows.filter((r) => r.managed).map((r) => [r.managed!.replace('goauthentik.io/providers/oauth2/scope-', ''), r.pm_uuid]),
      );
      await createUser(srv, 'alice', PASSWORD);
      await createUser(srv, 'bob', PASSWORD);
      await app('hints');
      await app('front', { logout_method: 'frontchannel', logout_uri: FRONT });
    });
    after(async () => srv.close());

    /** an authorization request through to the redirect URI (consenting when asked); the code's tokens */
    async function signIn(b: Browser, slug: string, params: Record<string, string> = {}) {
      const url = client.buildAuthorizationUrl(configs[slug]!, { redirect_uri: REDIRECT, scope: 'openid profile', state: 'x', ...params });
      const landed = await b.authorize(url);
      return client.authorizationCodeGrant(configs[slug]!, landed, { expectedState: 'x' });
    }

    it('login_hint: the login flow starts with the identifier; back to the authorization after the password', async () => {
      const config = configs.hints!;
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid profile',
        state: 'x',
        login_hint: 'alice',
      });
      const b = new Browser(srv);
      const r = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      const loc = r.headers.get('location')!;
      assert.equal(loc, `/if/flow/default-authentication-flow/?next=${encodeURIComponent(url.pathname + url.search)}`);
      const slug = 'default-authentication-flow';
      // the identification stage asks for nothing else: the hint is submitted, the password stage shows alice
      const ch = (await b.executor(slug)).body;
      assert.equal(ch.component, 'ak-stage-password');
      assert.equal(ch.pending_user, 'alice');
      const done = (await b.solve(slug, { component: 'ak-stage-password', password: PASSWORD })).body;
      assert.equal(done.component, 'xak-flow-redirect');
      assert.equal(done.to, url.pathname + url.search);
      const landed = await b.authorize(new URL(done.to, srv.url));
      const tokens = await client.authorizationCodeGrant(config, landed, { expectedState: 'x' });
      assert.equal(tokens.claims()!.preferred_username, 'alice');
      // logged in already: the hint changes nothing
      const again = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
      assert.equal(new URL(again.headers.get('location')!).searchParams.get('state'), 'x', 'straight back to the client');
    });

    it('nobody logged in: the login says which application it is for (application_pre); a plain login does not', async () => {
      const url = client.buildAuthorizationUrl(configs.hints!, { redirect_uri: REDIRECT, scope: 'openid', state: 'x' });
      const b = new Browser(srv);
      const r = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      assert.equal(
        r.headers.get('location'),
        `/if/flow/default-authentication-flow/?next=${encodeURIComponent(url.pathname + url.search)}`,
      );
      const ch = (await b.executor('default-authentication-flow')).body;
      assert.equal(ch.component, 'ak-stage-identification');
      assert.equal(ch.application_pre, 'App hints');
      assertMatches('IdentificationChallenge', ch);
      // and the person comes back to the authorization after the login
      await b.solve('default-authentication-flow', { component: 'ak-stage-identification', uid_field: 'alice' });
      const done = (await b.solve('default-authentication-flow', { component: 'ak-stage-password', password: PASSWORD })).body;
      assert.equal(done.to, url.pathname + url.search);
      const plain = (await new Browser(srv).executor('default-authentication-flow')).body;
      assert.equal(plain.component, 'ak-stage-identification');
      assert.equal('application_pre' in plain, false);
    });

    it('login_hint of nobody: the identification stage is shown pre-filled (no enumeration)', async () => {
      const url = client.buildAuthorizationUrl(configs.hints!, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        login_hint: 'nobody@example.com',
      });
      const b = new Browser(srv);
      const r = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      const ch = (await b.executor('default-authentication-flow')).body;
      // as for a known identifier: the password stage, for the identifier typed
      assert.equal(ch.component, 'ak-stage-password');
      assert.equal(ch.pending_user, 'nobody@example.com');
    });

    it('id_token_hint with prompt=none: the hinted person passes, someone else is login_required', async () => {
      const alice = new Browser(srv);
      await alice.login('alice', '');
      const aliceTokens = await signIn(alice, 'hints');
      const bob = new Browser(srv);
      await bob.login('bob', '');
      const bobTokens = await signIn(bob, 'hints');
      const config = configs.hints!;
      const ok = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        state: 'p',
        prompt: 'none',
        id_token_hint: aliceTokens.id_token!,
      });
      const landed = await alice.authorize(ok);
      assert.ok(landed.searchParams.get('code'));
      const other = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        state: 'p',
        prompt: 'none',
        id_token_hint: bobTokens.id_token!,
      });
      const r = await fetch(other, { redirect: 'manual', headers: alice.jar.headers() });
      const err = new URL(r.headers.get('location')!);
      assert.equal(err.origin + err.pathname, REDIRECT);
      assert.equal(err.searchParams.get('error'), 'login_required');
      assert.equal(err.searchParams.get('state'), 'p');
      // a hint that is not one of this provider's ID tokens is ignored
      const junk = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid',
        prompt: 'none',
        id_token_hint: 'a.b.c',
      });
      assert.ok((await alice.authorize(junk)).searchParams.get('code'));
    });

    it('prompt=consent on a flow without a consent stage: authentik’s in-memory consent, every time', async () => {
      const b = new Browser(srv);
      await b.login('alice', '');
      const url = client.buildAuthorizationUrl(configs.hints!, {
        redirect_uri: REDIRECT,
        scope: 'openid email',
        state: 'c',
        prompt: 'consent',
      });
      for (let i = 0; i < 2; i++) {
        const r = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
        b.jar.keep(r);
        const slug = Browser.flowOf(r.headers.get('location')!)!.slug;
        assert.equal(slug, 'default-provider-authorization-implicit-consent');
        const ch = (await b.executor(slug)).body;
        assert.equal(ch.component, 'ak-stage-consent');
        assert.equal(ch.header_text, "You're about to sign into App hints.");
        assert.deepEqual(ch.permissions.map((p: { id: string }) => p.id).sort(), ['email', 'openid']);
        const end = (await b.solve(slug, { component: 'ak-stage-consent', token: ch.token })).body;
        assert.equal(end.component, 'xak-flow-redirect');
        assert.ok(new URL((await b.open(end.to)).location!).searchParams.get('code'));
      }
      // offline_access forces it too; without either the implicit flow asks nothing
      const offline = client.buildAuthorizationUrl(configs.hints!, { redirect_uri: REDIRECT, scope: 'openid offline_access' });
      const r = await fetch(offline, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      assert.equal((await b.executor(Browser.flowOf(r.headers.get('location')!)!.slug)).body.component, 'ak-stage-consent');
      const plain = client.buildAuthorizationUrl(configs.hints!, { redirect_uri: REDIRECT, scope: 'openid' });
      const p = await fetch(plain, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(p);
      assert.ok(new URL(p.headers.get('location')!).searchParams.get('code'), 'straight back to the client with a code');
    });

    it('front-channel logout from the application: the logout URL with iss and sid in an iframe, then the logout', async () => {
      const b = new Browser(srv);
      await b.login('alice', '');
      const tokens = await signIn(b, 'front');
      const end = client.buildEndSessionUrl(configs.front!, {
        id_token_hint: tokens.id_token!,
        post_logout_redirect_uri: LOGGED_OUT,
        state: 'bye',
      });
      const r = await fetch(end, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      assert.equal(r.headers.get('location'), '/if/flow/default-invalidation-flow/');
      const ch = (await b.executor('default-invalidation-flow')).body;
      assert.equal(ch.component, 'ak-provider-iframe-logout');
      assertMatches('IframeLogoutChallenge', ch);
      assert.equal(ch.logout_urls.length, 1);
      const u = new URL(ch.logout_urls[0].url);
      assert.equal(u.origin + u.pathname, 'http://127.0.0.1:9/frontchannel');
      assert.equal(u.searchParams.get('iss'), `${srv.url}/application/o/front/`);
      assert.equal(u.searchParams.get('sid'), tokens.claims()!.sid);
      assert.equal(u.searchParams.get('tenant'), 't1');
      assert.equal(ch.logout_urls[0].provider_name, 'p-front');
      const done = (await b.solve('default-invalidation-flow', { component: 'ak-provider-iframe-logout' })).body;
      assert.equal(done.component, 'xak-flow-redirect');
      assert.equal(done.to, `${LOGGED_OUT}?state=bye`);
      // the session and its access tokens are gone
      assert.equal((await b.jar.json(`${srv.api}/core/users/me/`)).status, 403);
      const info = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(info.status, 401);
    });

    it('front-channel logout on a Keystage logout: the iframe stage right after the logout', async () => {
      const b = new Browser(srv);
      await b.login('alice', '');
      const tokens = await signIn(b, 'front');
      await signIn(b, 'hints');
      const r = await fetch(`${srv.url}/flows/-/default/invalidation/`, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      const ch = (await b.executor('default-invalidation-flow')).body;
      assert.equal(ch.component, 'ak-provider-iframe-logout');
      assertMatches('IframeLogoutChallenge', ch);
      assert.deepEqual(
        ch.logout_urls.map((x: { provider_name: string }) => x.provider_name),
        ['p-front'],
      );
      assert.equal(new URL(ch.logout_urls[0].url).searchParams.get('sid'), tokens.claims()!.sid);
      const done = (await b.solve('default-invalidation-flow', { component: 'ak-provider-iframe-logout' })).body;
      assert.equal(done.component, 'xak-flow-redirect');
      assert.equal(
        await srv.app.store.db
          .selectFrom('oauth2_access_tokens')
          .select('id')
          .where('session_id', '=', tokens.claims()!.sid as string)
          .executeTakeFirst(),
        undefined,
      );
    });
  });
}
