/**
 * /application/o/authorize/ end to end, with openid-client as the relying party, on SQLite and PostgreSQL: the
 * person is sent to the login flow, comes back, runs the provider's authorization flow (implicit or explicit
 * consent) and lands on the redirect URI with a code; implicit and hybrid responses; errors sent to the redirect
 * URI only when it matched; prompt=none, prompt=login; the first redirect URI learnt.
 */
import { invalidateAdminCache } from '../../../src/db/admin-cache.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { decodeJwt } from 'jose';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { Browser, PASSWORD } from './browser.js';
import { atHash, cHash } from '../../../src/providers/oauth2/protocol/hashes.js';
import { startLogoutReceiver } from '../../helpers/fake-logout-rp.js';
import { jwtVerify } from 'jose';
import { sessionKeyOf } from '../../../src/sessions/session-hash.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

for (const dialect of dialects()) {
  describe(`OAuth2 authorization endpoint (${dialect})`, () => {
    let srv: TestServer;
    let flows: Record<string, string>;
    let pm: Record<string, string>;
    const apps: Record<string, { client_id: string; client_secret: string; pk: number }> = {};

    async function app(slug: string, extra: Record<string, unknown> = {}) {
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: `p-${slug}`,
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [{ matching_mode: 'strict', url: REDIRECT }],
        property_mappings: [pm.openid, pm.email, pm.profile, pm.offline_access],
        ...extra,
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      const a = await call(srv, 'POST', '/core/applications/', { name: `App ${slug}`, slug, provider: p.body.pk });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      apps[slug] = p.body;
      return p.body as { client_id: string; client_secret: string; pk: number };
    }

    const discover = (slug: string, alg = 'HS256') =>
      client.discovery(
        new URL(`${srv.url}/application/o/${slug}/`),
        apps[slug]!.client_id,
        { client_secret: apps[slug]!.client_secret, id_token_signed_response_alg: alg },
        undefined,
        { execute: [client.allowInsecureRequests] },
      );

    before(async () => {
      srv = await startServer(dialect);
      const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
      flows = Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
      const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      pm = Object.fromEntries(
        rows.filter((r) => r.managed).map((r) => [r.managed!.replace('goauthentik.io/providers/oauth2/scope-', ''), r.pm_uuid]),
      );
      await createUser(srv, 'alice', PASSWORD);
      await app('implicit-consent');
      await app('explicit-consent', { authorization_flow: flows['default-provider-authorization-explicit-consent'] });
    });
    after(async () => srv.close());

    it('code flow: login, authorization flow, code, tokens, userinfo', async () => {
      const config = await discover('implicit-consent');
      const verifier = client.randomPKCECodeVerifier();
      const nonce = client.randomNonce();
      const url = client.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT,
        scope: 'openid email profile',
        state: 'st-1',
        nonce,
        code_challenge: await client.calculatePKCECodeChallenge(verifier),
        code_challenge_method: 'S256',
      });
      const b = new Browser(srv);
      // nobody logged in: to the login flow, back to this request after
      const first = await b.open(url.toString());
      assert.equal(first.status, 200);
      const toLogin = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
      const loginAt = toLogin.headers.get('location')!;
      assert.match(loginAt, /^\/if\/flow\/default-authentication-flow\/\?next=/);
      const next = new URL(loginAt, srv.url).searchParams.get('next')!;
      assert.equal(next, url.pathname + url.search);
      const done = await b.login('alice', `next=${encodeURIComponent(next)}`);
      assert.equal(done.component, 'xak-flow-redirect');
      assert.equal(done.to, next);
      // logged in: the authorization flow, implicit consent, has nothing to ask: it is done at once and the request
      // fulfilled in the same answer, straight back to the client (not through the flow page and a fulfilment URL)
      const back = await fetch(new URL(next, srv.url), { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(back);
      assert.equal(back.status, 302);
      const cb = new URL(back.headers.get('location')!);
      assert.equal(cb.origin + cb.pathname, REDIRECT);
      assert.deepEqual([...cb.searchParams.keys()], ['code', 'state']);
      assert.equal(cb.searchParams.get('state'), 'st-1');
      assert.match(cb.searchParams.get('code')!, /^[0-9a-f]{32}$/);
      // no flow is left in the session: the flow page answers the flow's start again, not a stale continuation
      const sid = b.jar.cookies.get('authentik_session');
      const row = await srv.app.store.db
        .selectFrom('sessions')
        .select('data')
        .where('session_key', '=', sessionKeyOf(sid!))
        .executeTakeFirstOrThrow();
      assert.equal(JSON.parse(row.data).plan, undefined);
      assert.deepEqual(
        Object.keys(JSON.parse(row.data).providers ?? {}).filter((k) => k.startsWith('oauth2:authorize:')),
        [],
      );
      const tokens = await client.authorizationCodeGrant(config, cb, {
        pkceCodeVerifier: verifier,
        expectedState: 'st-1',
        expectedNonce: nonce,
        idTokenExpected: true,
      });
      const claims = tokens.claims()!;
      assert.equal(claims.email, 'alice@example.com');
      assert.equal(claims.preferred_username, 'alice');
      assert.deepEqual(claims.amr, ['pwd']);
      const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
      assert.equal(info.email, 'alice@example.com');
      const events = await srv.app.store.db
        .selectFrom('events')
        .select(['action', 'context'])
        .where('action', '=', 'authorize_application')
        .execute();
      assert.equal(events.length, 1);
      assert.equal(JSON.parse(events[0]!.context).scopes, 'openid email profile');

      // logged in already: straight through; prompt=none works too
      const again = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', state: 'st-2', prompt: 'none' });
      assert.equal((await b.authorize(again)).searchParams.get('state'), 'st-2');

      // max_age: a login older than it sends the person to log in again (max_age=0 asks nothing, as authentik)
      await new Promise((r) => setTimeout(r, 1100));
      const aged = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', max_age: '1' });
      const ma = await fetch(aged, { redirect: 'manual', headers: b.jar.headers() });
      assert.match(ma.headers.get('location')!, /^\/flows\/-\/default\/authentication\//);
      const zero = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', max_age: '0' });
      const z = await fetch(zero, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(z);
      assert.ok(new URL(z.headers.get('location')!).searchParams.get('code'));
      // prompt=login: back to the login flow although logged in, then through
      const relogin = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', state: 'st-3', prompt: 'login' });
      const rl = await fetch(relogin, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(rl);
      assert.match(rl.headers.get('location')!, /^\/flows\/-\/default\/authentication\//);
      await b.login('alice', `next=${encodeURIComponent(relogin.pathname + relogin.search)}`);
      const rl2 = await fetch(relogin, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(rl2);
      assert.equal(new URL(rl2.headers.get('location')!).searchParams.get('state'), 'st-3');
    });

    it('explicit consent: the consent stage shows the scopes’ descriptions and is remembered', async () => {
      const config = await discover('explicit-consent');
      const b = new Browser(srv);
      await b.login('alice', '');
      const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid email', state: 's' });
      const r = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      const slug = Browser.flowOf(r.headers.get('location')!)!.slug;
      const ch = (await b.executor(slug)).body;
      assert.equal(ch.component, 'ak-stage-consent');
      assert.equal(ch.header_text, "You're about to sign into App explicit-consent.");
      // the flow's title names the application (authentik's %(app)s)
      assert.equal(ch.flow_info.title, 'Redirecting to App explicit-consent');
      assert.deepEqual(
        ch.permissions.map((p: { id: string }) => p.id),
        ['email', 'openid'],
      );
      const end = (await b.solve(slug, { component: 'ak-stage-consent', token: ch.token })).body;
      assert.match(end.to, /^\/application\/o\/authorize\/fulfil\/[\w-]+\/$/);
      const landed = await b.open(end.to);
      assert.ok(new URL(landed.location!).searchParams.get('code'));
      // the continuation works once
      assert.equal((await b.open(end.to)).status, 400);
      // remembered: the next authorization goes straight through
      const r2 = await fetch(url, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r2);
      assert.equal((await b.runFlow(slug, false)).component, 'xak-flow-redirect');
    });

    it('implicit and hybrid: tokens in the fragment with at_hash and c_hash', async () => {
      const config = await discover('implicit-consent');
      const b = new Browser(srv);
      await b.login('alice', '');
      const nonce = client.randomNonce();
      for (const responseType of ['id_token token', 'code id_token']) {
        const url = client.buildAuthorizationUrl(config, {
          redirect_uri: REDIRECT,
          scope: 'openid email',
          state: 'frag',
          nonce,
          response_type: responseType,
        });
        const landed = await b.authorize(url);
        assert.equal(landed.search, '');
        const frag = new URLSearchParams(landed.hash.slice(1));
        const id = decodeJwt(frag.get('id_token')!);
        assert.equal(id.nonce, nonce);
        assert.equal(frag.get('token_type'), 'Bearer');
        assert.equal(frag.get('expires_in'), '3600');
        assert.equal(frag.get('state'), 'frag');
        if (responseType === 'id_token token') {
          assert.deepEqual([...frag.keys()], ['access_token', 'id_token', 'token_type', 'expires_in', 'state']);
          assert.equal(id.at_hash, atHash(frag.get('access_token')!));
        } else {
          assert.deepEqual([...frag.keys()], ['id_token', 'code', 'token_type', 'expires_in', 'state']);
          assert.equal(id.c_hash, cHash(frag.get('code')!));
        }
      }
    });

    it('errors: pages until the redirect URI matched, then sent to it', async () => {
      const c = apps['implicit-consent']!;
      const base = `${srv.url}/application/o/authorize/`;
      const get = (q: Record<string, string>) => fetch(`${base}?${new URLSearchParams(q)}`, { redirect: 'manual' });
      assert.equal((await fetch(base)).status, 404);
      const unknownClient = await get({ client_id: 'nope', redirect_uri: REDIRECT, response_type: 'code' });
      assert.equal(unknownClient.status, 400);
      assert.match(await unknownClient.text(), /Client ID Error/);
      const badRedirect = await get({ client_id: c.client_id, redirect_uri: 'http://evil.example/cb', response_type: 'bogus' });
      assert.equal(badRedirect.status, 400);
      assert.match(await badRedirect.text(), /Redirect URI Error/);
      const js = await get({ client_id: c.client_id, redirect_uri: 'javascript:alert(1)', response_type: 'code' });
      assert.equal(js.status, 400);
      const unsupported = await get({ client_id: c.client_id, redirect_uri: REDIRECT, response_type: 'bogus', state: 'x' });
      assert.equal(unsupported.status, 302);
      assert.equal(
        unsupported.headers.get('location'),
        `${REDIRECT}?error=unsupported_response_type&error_description=The%20authorization%20server%20does%20not%20support%20obtaining%20an%20authorization%20code%20using%20this%20method&state=x`,
      );
      const none = await get({ client_id: c.client_id, redirect_uri: REDIRECT, response_type: 'code', prompt: 'none', state: 'y' });
      assert.equal(none.status, 302);
      assert.match(none.headers.get('location')!, /^http:\/\/127\.0\.0\.1:9\/cb\?error=login_required&/);
      const pkce = await get({
        client_id: c.client_id,
        redirect_uri: REDIRECT,
        response_type: 'code',
        code_challenge: 'x',
        code_challenge_method: 'S512',
      });
      assert.match(pkce.headers.get('location')!, /error=invalid_request&error_description=Unsupported%20challenge%20method%20S512/);
    });

    it('end-session of a provider without an invalidation flow: the brand’s, else 404 (authentik’s EndSessionView)', async () => {
      // (the API requires one; a provider stored without one — older data — is what this is about)
      const p = await app('no-invalidation');
      await srv.app.store.db.updateTable('providers').set({ invalidation_flow: null }).where('id', '=', p.pk).execute();
      invalidateAdminCache(srv.app.store.db);
      const brand = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0];
      const end = () => fetch(`${srv.url}/application/o/no-invalidation/end-session/`, { redirect: 'manual' });
      const set = async (flow: string | null) =>
        assert.equal((await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { flow_invalidation: flow })).status, 200);
      try {
        await set(flows['default-provider-invalidation-flow']!);
        const r = await end();
        assert.equal(r.status, 302);
        assert.equal(Browser.flowOf(r.headers.get('location')!)!.slug, 'default-provider-invalidation-flow');
        await set(null);
        assert.equal((await end()).status, 404);
      } finally {
        await set(brand.flow_invalidation);
      }
    });

    it('end-session: id_token_hint, registered post-logout redirect with state, back-channel logout token, tokens gone', async () => {
      const rp = await startLogoutReceiver();
      const { received } = rp;
      try {
        const p = await app('logout', {
          redirect_uris: [
            { matching_mode: 'strict', url: REDIRECT },
            { matching_mode: 'regex', url: 'http://127\\.0\\.0\\.1:9/bye(/.*)?', redirect_uri_type: 'logout' },
          ],
          logout_uri: rp.url,
          logout_method: 'backchannel',
        });
        const config = await discover('logout');
        assert.equal(config.serverMetadata().end_session_endpoint, `${srv.url}/application/o/logout/end-session/`);
        const b = new Browser(srv);
        await b.login('alice', '');
        const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', state: 's' });
        const tokens = await client.authorizationCodeGrant(config, await b.authorize(url), { expectedState: 's' });
        const idToken = tokens.id_token!;
        const base = `${srv.url}/application/o/logout/end-session/`;
        // refusals: a redirect without a hint, an unregistered redirect, a forged hint
        const noHint = await fetch(`${base}?${new URLSearchParams({ post_logout_redirect_uri: 'http://127.0.0.1:9/bye' })}`, {
          redirect: 'manual',
          headers: b.jar.headers(),
        });
        assert.equal(noHint.status, 400);
        const unregistered = await fetch(
          `${base}?${new URLSearchParams({ id_token_hint: idToken, post_logout_redirect_uri: 'http://127.0.0.1:9/elsewhere' })}`,
          {
            redirect: 'manual',
            headers: b.jar.headers(),
          },
        );
        assert.equal(unregistered.status, 400);
        const forged = await fetch(`${base}?${new URLSearchParams({ id_token_hint: `${idToken.slice(0, -4)}AAAA` })}`, {
          redirect: 'manual',
          headers: b.jar.headers(),
        });
        assert.equal(forged.status, 400);
        // the logout
        const out = await client.buildEndSessionUrl(config, {
          id_token_hint: idToken,
          post_logout_redirect_uri: 'http://127.0.0.1:9/bye/now',
          state: 'a b',
        });
        const res = await fetch(out, { redirect: 'manual', headers: b.jar.headers() });
        b.jar.keep(res);
        assert.equal(res.status, 302);
        const flow = Browser.flowOf(res.headers.get('location')!)!;
        assert.equal(flow.slug, 'default-provider-invalidation-flow');
        const done = (await b.executor(flow.slug)).body;
        assert.equal(done.component, 'xak-flow-redirect');
        assert.equal(done.to, 'http://127.0.0.1:9/bye/now?state=a%20b');
        const gone = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        assert.equal(gone.status, 401);
        assert.equal(received.length, 1);
        const logoutToken = new URLSearchParams(received[0]).get('logout_token')!;
        const { payload, protectedHeader } = await jwtVerify(logoutToken, new TextEncoder().encode(p.client_secret), {
          audience: p.client_id,
        });
        assert.equal(protectedHeader.typ, 'logout+jwt');
        assert.equal(payload.iss, `${srv.url}/application/o/logout/`);
        assert.equal(payload.sub, decodeJwt(idToken).sub);
        assert.equal(payload.sid, decodeJwt(idToken).sid);
        assert.deepEqual(payload.events, { 'http://schemas.openid.net/event/backchannel-logout': {} });
      } finally {
        rp.close();
      }
    });

    it('logging out of Keystage ends the session’s access tokens and tells back-channel providers', async () => {
      const rp = await startLogoutReceiver();
      const { received } = rp;
      try {
        await app('bc-session', { logout_uri: rp.url, logout_method: 'backchannel' });
        const config = await discover('bc-session');
        const b = new Browser(srv);
        await b.login('alice', '');
        const url = client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', state: 's' });
        const tokens = await client.authorizationCodeGrant(config, await b.authorize(url), { expectedState: 's' });
        const before = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        assert.equal(before.status, 200);
        // Keystage's own logout (the default invalidation flow's user_logout stage)
        const out = await b.executor('default-invalidation-flow');
        assert.equal(out.body.component, 'xak-flow-redirect');
        const after = await fetch(`${srv.url}/application/o/userinfo/`, { headers: { authorization: `Bearer ${tokens.access_token}` } });
        assert.equal(after.status, 401);
        assert.equal(received.length, 1);
        const claims = decodeJwt(new URLSearchParams(received[0]).get('logout_token')!);
        assert.equal(claims.sid, decodeJwt(tokens.id_token!).sid);
      } finally {
        rp.close();
      }
    });

    it('form_post answers an autosubmit page; a non-ASCII redirect URI is percent-encoded in Location', async () => {
      await app('odd', { redirect_uris: [{ matching_mode: 'regex', url: 'http://127\\.0\\.0\\.1:9/.*' }] });
      const config = await discover('odd');
      const b = new Browser(srv);
      await b.login('alice', '');
      const post = client.buildAuthorizationUrl(config, {
        redirect_uri: 'http://127.0.0.1:9/cb',
        scope: 'openid',
        state: 'fp',
        response_mode: 'form_post',
      });
      // (the implicit-consent flow asks nothing: the authorization request answers the form itself)
      const page = await b.open(post.toString());
      assert.equal(page.status, 200);
      assert.match(page.text, /<form method="post" action="http:\/\/127\.0\.0\.1:9\/cb">/);
      assert.match(page.text, /<input type="hidden" name="code" value="[0-9a-f]{32}">/);
      assert.match(page.text, /<input type="hidden" name="state" value="fp">/);
      const odd = client.buildAuthorizationUrl(config, { redirect_uri: 'http://127.0.0.1:9/cb/é ü', scope: 'openid', state: 'u' });
      const landed = await b.authorize(odd);
      assert.equal(landed.pathname, '/cb/%C3%A9%20%C3%BC');
      assert.ok(landed.searchParams.get('code'));
    });

    it('a provider without redirect URIs learns the first one, strictly', async () => {
      const p = await app('learner', { redirect_uris: [] });
      const first = await fetch(
        `${srv.url}/application/o/authorize/?${new URLSearchParams({ client_id: p.client_id, redirect_uri: 'http://127.0.0.1:9/learnt', response_type: 'code' })}`,
        {
          redirect: 'manual',
        },
      );
      assert.equal(first.status, 302);
      const got = await call(srv, 'GET', `/providers/oauth2/${p.pk}/`);
      assert.deepEqual(got.body.redirect_uris, [
        { matching_mode: 'strict', url: 'http://127.0.0.1:9/learnt', redirect_uri_type: 'authorization' },
      ]);
      const other = await fetch(
        `${srv.url}/application/o/authorize/?${new URLSearchParams({ client_id: p.client_id, redirect_uri: 'http://127.0.0.1:9/other', response_type: 'code' })}`,
        {
          redirect: 'manual',
        },
      );
      assert.equal(other.status, 400);
    });

    it('two first authorizations at once with different redirect URIs: one learnt, the other refused, none lost', async () => {
      for (let round = 0; round < 4; round++) {
        const p = await app(`learner-${round}`, { redirect_uris: [] });
        const ask = (path: string) =>
          fetch(
            `${srv.url}/application/o/authorize/?${new URLSearchParams({ client_id: p.client_id, redirect_uri: `http://127.0.0.1:9/${path}`, response_type: 'code' })}`,
            { redirect: 'manual' },
          );
        const answers = await Promise.all([ask('a'), ask('b'), ask('a'), ask('b')]);
        const got = (await call(srv, 'GET', `/providers/oauth2/${p.pk}/`)).body.redirect_uris as { url: string }[];
        assert.equal(got.length, 1, JSON.stringify(got));
        const learnt = got[0]!.url.endsWith('/a') ? 'a' : 'b';
        assert.deepEqual(
          answers.map((a) => a.status),
          ['a', 'b', 'a', 'b'].map((x) => (x === learnt ? 302 : 400)),
        );
      }
    });
  });
}
