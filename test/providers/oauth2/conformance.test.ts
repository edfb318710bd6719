/**
 * The OpenID Foundation's Basic OP, Config OP and RP-Initiated Logout test plans cannot run here (Java, MongoDB):
 * their modules as node tests, named as the suite names them, with openid-client as the relying party, on SQLite and
 * PostgreSQL. (Modules the other files cover are named there: codereuse, ensure-registered-redirect-uri, PKCE,
 * refresh-token, userinfo-get/post-header/post-body, prompt-login, prompt-none-not-logged-in, max-age.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser } from '../../helpers/flows.js';
import { Browser, PASSWORD } from './browser.js';

const REDIRECT = 'http://127.0.0.1:9/cb';
const LOGOUT = 'http://127.0.0.1:9/logged-out';

for (const dialect of dialects()) {
  describe(`OpenID conformance modules (${dialect})`, () => {
    let srv: TestServer;
    let config: client.Configuration;
    let b: Browser;
    let clientId: string;
    const slug = 'conformance';

    before(async () => {
      srv = await startServer(dialect);
      const f = await call(srv, 'GET', '/flows/instances/?page_size=100');
      const flows = Object.fromEntries(f.body.results.map((x: { slug: string; pk: string }) => [x.slug, x.pk]));
      const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
      const kp = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', {
        common_name: 'conformance',
        validity_days: 30,
        alg: 'rsa',
      });
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'conformance',
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [
          { matching_mode: 'strict', url: REDIRECT },
          { matching_mode: 'strict', url: LOGOUT, redirect_uri_type: 'logout' },
        ],
        property_mappings: rows.filter((r) => r.managed).map((r) => r.pm_uuid),
        signing_key: kp.body.pk,
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Conformance', slug, provider: p.body.pk })).status, 201);
      clientId = p.body.client_id;
      config = await client.discovery(new URL(`${srv.url}/application/o/${slug}/`), clientId, p.body.client_secret, undefined, {
        execute: [client.allowInsecureRequests],
      });
      await createUser(srv, 'conformance-user', PASSWORD);
      b = new Browser(srv);
      await b.login('conformance-user', '');
    });
    after(async () => srv.close());

    const authorize = (params: Record<string, string>) =>
      b.authorize(client.buildAuthorizationUrl(config, { redirect_uri: REDIRECT, scope: 'openid', ...params }));
    const codeFlow = async (params: Record<string, string> = {}) => {
      const nonce = params.nonce;
      const landed = await authorize({ state: 'st', ...params });
      return client.authorizationCodeGrant(config, landed, {
        expectedState: 'st',
        ...(nonce ? { expectedNonce: nonce } : {}),
        idTokenExpected: true,
      });
    };

    // ---- Config OP
    it('oidcc-discovery-*: the document’s required members, issuer equal to the URL it was fetched under', async () => {
      const meta = config.serverMetadata();
      assert.equal(meta.issuer, `${srv.url}/application/o/${slug}/`);
      for (const m of [
        'authorization_endpoint',
        'token_endpoint',
        'userinfo_endpoint',
        'jwks_uri',
        'response_types_supported',
        'subject_types_supported',
      ])
        assert.ok(m in meta, m);
      assert.ok((meta.response_types_supported as string[]).includes('code'));
      assert.ok((meta.scopes_supported as string[]).includes('openid'));
      assert.ok(!(meta.id_token_signing_alg_values_supported as string[]).includes('none'));
    });

    it('oidcc-server-jwks: jwks_uri serves the signing key', async () => {
      const jwks = await (await fetch(config.serverMetadata().jwks_uri!)).json();
      assert.equal(jwks.keys.length, 1);
      assert.equal(jwks.keys[0].kty, 'RSA');
      assert.equal(jwks.keys[0].use, 'sig');
    });

    // ---- Basic OP
    it('oidcc-server / oidcc-idtoken-signature: a code flow’s ID token signed RS256 by a key of jwks_uri', async () => {
      const tokens = await codeFlow();
      const jwks = await (await fetch(config.serverMetadata().jwks_uri!)).json();
      const header = decodeProtectedHeader(tokens.id_token!);
      assert.equal(header.alg, 'RS256');
      assert.equal(header.kid, jwks.keys[0].kid);
      await jwtVerify(tokens.id_token!, createLocalJWKSet(jwks), { issuer: config.serverMetadata().issuer, audience: clientId });
    });

    it('oidcc-response-type-missing: an error sent to the redirect URI', async () => {
      const landed = await b.authorize(
        `${srv.url}/application/o/authorize/?${new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, scope: 'openid', state: 's' })}`,
      );
      assert.equal(landed.searchParams.get('error'), 'unsupported_response_type');
      assert.equal(landed.searchParams.get('state'), 's');
    });

    it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
      const tokens = await codeFlow();
      assert.equal(tokens.claims()!.nonce, undefined);
    });

    it('oidcc-scope-profile / -email / -address / -phone / -all: granted scopes’ claims, unknown scopes ignored', async () => {
      const tokens = await codeFlow({ scope: 'openid profile email address phone' });
      const info = await client.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
      assert.equal(info.email, 'conformance-user@example.com');
      assert.equal(info.preferred_username, 'conformance-user');
      assert.equal(tokens.scope, 'openid profile email');
    });

    it('oidcc-ensure-other-scope-order-succeeds', async () => {
      const tokens = await codeFlow({ scope: 'email openid' });
      assert.equal(tokens.claims()!.email, 'conformance-user@example.com');
    });

    for (const [module, extra] of [
      ['oidcc-display-page', { display: 'page' }],
      ['oidcc-display-popup', { display: 'popup' }],
      ['oidcc-ensure-request-with-unknown-parameter-succeeds', { extra_param: 'foobar' }],
      ['oidcc-login-hint', { login_hint: 'conformance-user' }],
      ['oidcc-ui-locales', { ui_locales: 'se' }],
      ['oidcc-claims-locales', { claims_locales: 'se' }],
      ['oidcc-ensure-request-with-acr-values-succeeds', { acr_values: '1 2' }],
      ['oidcc-claims-essential', { claims: JSON.stringify({ userinfo: { name: { essential: true } } }) }],
    ] as const) {
      it(`${module}: the request succeeds`, async () => {
        const nonce = client.randomNonce();
        const tokens = await codeFlow({ ...extra, nonce });
        assert.equal(tokens.claims()!.nonce, nonce);
      });
    }

    it('oidcc-id-token-hint: a request with a previous ID token as hint succeeds', async () => {
      const first = await codeFlow();
      const again = await codeFlow({ id_token_hint: first.id_token!, prompt: 'none' });
      assert.equal(again.claims()!.sub, first.claims()!.sub);
    });

    it('oidcc-prompt-none-logged-in: no interaction, a code', async () => {
      const tokens = await codeFlow({ prompt: 'none' });
      assert.ok(tokens.access_token);
    });

    it('oidcc-ensure-post-request-succeeds: the authorization request by POST', async () => {
      const params = new URLSearchParams({
        client_id: clientId,
        redirect_uri: REDIRECT,
        response_type: 'code',
        scope: 'openid',
        state: 'post',
      });
      const r = await fetch(`${srv.url}/application/o/authorize/`, {
        method: 'POST',
        headers: b.jar.headers({ 'content-type': 'application/x-www-form-urlencoded' }),
        body: params,
        redirect: 'manual',
      });
      b.jar.keep(r);
      const landed = new URL(r.headers.get('location')!);
      assert.equal(landed.searchParams.get('state'), 'post');
      assert.ok(landed.searchParams.get('code'));
    });

    it('oidcc-server-client-secret-post: the client authenticates in the body', async () => {
      const landed = await authorize({ state: 'csp' });
      const r = await fetch(config.serverMetadata().token_endpoint!, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'authorization_code',
          code: landed.searchParams.get('code')!,
          redirect_uri: REDIRECT,
          client_id: clientId,
          client_secret: (await call(srv, 'GET', `/providers/oauth2/?client_id=${clientId}`)).body.results[0].client_secret,
        }),
      });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-store');
    });

    it('oidcc-unsigned-request-object-supported-correctly-or-rejected-as-unsupported: request_not_supported', async () => {
      const q = new URLSearchParams({ client_id: clientId, redirect_uri: REDIRECT, response_type: 'code', scope: 'openid', state: 'ro' });
      q.set('request', 'eyJhbGciOiJub25lIn0.eyJzY29wZSI6Im9wZW5pZCJ9.');
      const landed = await b.authorize(`${srv.url}/application/o/authorize/?${q}`);
      assert.equal(landed.searchParams.get('error'), 'request_not_supported');
    });

    // ---- RP-Initiated Logout
    it('oidcc-rp-initiated-logout: post_logout_redirect_uri with state, only with id_token_hint and when registered', async () => {
      const tokens = await codeFlow();
      const bad = await fetch(
        client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: 'http://127.0.0.1:9/nope' }),
        {
          redirect: 'manual',
          headers: b.jar.headers(),
        },
      );
      assert.equal(bad.status, 400);
      const noHint = await fetch(client.buildEndSessionUrl(config, { post_logout_redirect_uri: LOGOUT }), {
        redirect: 'manual',
        headers: b.jar.headers(),
      });
      assert.equal(noHint.status, 400);
      const r = await fetch(
        client.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: LOGOUT, state: 'bye' }),
        {
          redirect: 'manual',
          headers: b.jar.headers(),
        },
      );
      b.jar.keep(r);
      const done = (await b.executor(Browser.flowOf(r.headers.get('location')!)!.slug)).body;
      assert.equal(done.to, `${LOGOUT}?state=bye`);
    });
  });
}
