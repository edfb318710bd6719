/**
 * Chromium end to end with a sample web application: a few lines of node:http using `openid-client` on 127.0.0.1
 * send a person to Keystage, who logs in on the login page with password and TOTP, consents on the explicit-consent
 * flow and lands back at the application signed in with the expected claims; logging out of the application
 * (end-session with id_token_hint and post_logout_redirect_uri) ends the Keystage session and comes back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { addTotpDevice } from '../helpers/devices.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';
import { createUser, screenshot } from './page.js';

interface RpSession {
  verifier?: string;
  state?: string;
  nonce?: string;
  claims?: Record<string, unknown>;
  idToken?: string;
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** the sample application: /, /login, /callback, /logout, /logged-out */
function sampleApp(config: () => client.Configuration, base: () => string): Server {
  const sessions = new Map<string, RpSession>();
  return createServer(async (req, res) => {
    const url = new URL(req.url!, base());
    const sid = /(?:^|; )rp=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? randomBytes(16).toString('hex');
    const s = sessions.get(sid) ?? {};
    sessions.set(sid, s);
    res.setHeader('set-cookie', `rp=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    const page = (body: string) => {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!DOCTYPE html><html lang="en"><head><title>Sample app</title></head><body><main>${body}</main></body></html>`);
    };
    const redirect = (to: string) => {
      res.writeHead(302, { location: to });
      res.end();
    };
    try {
      if (url.pathname === '/login') {
        s.verifier = client.randomPKCECodeVerifier();
        s.state = client.randomState();
        s.nonce = client.randomNonce();
        const to = client.buildAuthorizationUrl(config(), {
          redirect_uri: `${base()}/callback`,
          scope: 'openid email profile',
          state: s.state,
          nonce: s.nonce,
          code_challenge: await client.calculatePKCECodeChallenge(s.verifier),
          code_challenge_method: 'S256',
        });
        return redirect(to.href);
      }
      if (url.pathname === '/callback') {
        const tokens = await client.authorizationCodeGrant(config(), url, {
          pkceCodeVerifier: s.verifier!,
          expectedState: s.state!,
          expectedNonce: s.nonce!,
          idTokenExpected: true,
        });
        const claims = tokens.claims()!;
        const info = await client.fetchUserInfo(config(), tokens.access_token, claims.sub);
        s.claims = { ...claims, userinfo_email: info.email };
        s.idToken = tokens.id_token;
        return redirect('/');
      }
      if (url.pathname === '/logout') {
        const to = client.buildEndSessionUrl(config(), {
          id_token_hint: s.idToken!,
          post_logout_redirect_uri: `${base()}/logged-out`,
          state: 'bye',
        });
        s.claims = undefined;
        return redirect(to.href);
      }
      if (url.pathname === '/logged-out') return page(`<p id="status">Signed out (${esc(url.searchParams.get('state') ?? '')})</p>`);
      if (s.claims)
        return page(
          `<p id="status">Signed in as ${esc(String(s.claims.preferred_username))}</p>` +
            `<pre id="claims">${esc(JSON.stringify(s.claims))}</pre><a id="logout" href="/logout">Sign out</a>`,
        );
      return page('<p id="status">Not signed in</p><a id="login" href="/login">Sign in with Keystage</a>');
    } catch (e) {
      res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(e));
    }
  });
}

describe('a sample OpenID Connect application in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let rp: Server;
  let rpBase = '';
  let keystage = '';
  let config: client.Configuration;
  let totpKey = '';

  before(async () => {
    srv = await startServer('sqlite');
    // Keystage as localhost, the application as 127.0.0.1: two sites, as in real life
    keystage = srv.url.replace('127.0.0.1', 'localhost');
    rp = sampleApp(
      () => config,
      () => rpBase,
    );
    await new Promise<void>((r) => rp.listen(0, '127.0.0.1', r));
    rpBase = `http://127.0.0.1:${(rp.address() as AddressInfo).port}`;
    const flows = await call(srv, 'GET', '/flows/instances/?page_size=100');
    const flowPk = (slug: string) => flows.body.results.find((f: { slug: string }) => f.slug === slug).pk;
    const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
    const pm = (s: string) => rows.find((r) => r.managed === `goauthentik.io/providers/oauth2/scope-${s}`)!.pm_uuid;
    const p = await call(srv, 'POST', '/providers/oauth2/', {
      name: 'Sample',
      authorization_flow: flowPk('default-provider-authorization-explicit-consent'),
      invalidation_flow: flowPk('default-invalidation-flow'),
      redirect_uris: [
        { matching_mode: 'strict', url: `${rpBase}/callback` },
        { matching_mode: 'strict', url: `${rpBase}/logged-out`, redirect_uri_type: 'logout' },
      ],
      property_mappings: [pm('openid'), pm('email'), pm('profile')],
    });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Sample app', slug: 'sample', provider: p.body.pk })).status, 201);
    config = await client.discovery(
      new URL(`${keystage}/application/o/sample/`),
      p.body.client_id,
      { client_secret: p.body.client_secret, id_token_signed_response_alg: 'HS256' },
      undefined,
      { execute: [client.allowInsecureRequests] },
    );
    const id = await createUser(srv, 'alice', 'alice-password-1');
    totpKey = (await addTotpDevice(srv.app.store.db, id)).key;
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => rp?.close(r));
    await srv?.close();
  });

  it('sign in with password, TOTP and consent; the claims; sign out ends the Keystage session', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${rpBase}/`);
    assert.equal(await p.textContent('#status'), 'Not signed in');
    await p.click('#login');
    // Keystage's login page
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    assert.ok(p.url().startsWith(`${keystage}/if/flow/default-authentication-flow/`), p.url());
    // the login says which application it is for
    assert.equal(await p.textContent('#application-pre'), 'Log in to continue to Sample app.');
    await p.fill('#uid_field', 'alice');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', 'alice-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#code');
    await p.fill('#code', totpAt(totpKey, currentStep({ t0: 0, step: 30 }), 6));
    await p.keyboard.press('Enter');
    // the explicit-consent authorization flow
    await p.waitForSelector('#header-text', { timeout: 15000 });
    assert.equal(await p.textContent('#header-text'), "You're about to sign into Sample app.");
    const perms = await p.$$eval('[data-permission-code]', (els) => els.map((e) => e.getAttribute('data-permission-code')));
    assert.deepEqual(perms.sort(), ['email', 'openid', 'profile']);
    await screenshot(p, 'oidc-consent');
    await p.click('button[type=submit]');
    // back at the application, signed in
    await p.waitForSelector('#claims', { timeout: 15000 });
    assert.ok(p.url().startsWith(`${rpBase}/`), p.url());
    assert.equal(await p.textContent('#status'), 'Signed in as alice');
    const claims = JSON.parse((await p.textContent('#claims'))!);
    assert.equal(claims.iss, `${keystage}/application/o/sample/`);
    assert.equal(claims.email, 'alice@example.com');
    assert.equal(claims.userinfo_email, 'alice@example.com');
    assert.equal(claims.name, 'alice Example');
    assert.equal(claims.preferred_username, 'alice');
    assert.deepEqual(claims.amr, ['pwd', 'mfa']);
    assert.equal(typeof claims.sid, 'string');
    assert.ok(Math.abs(claims.auth_time - Date.now() / 1000) < 120);
    await screenshot(p, 'oidc-signed-in');
    // logged in at Keystage meanwhile
    assert.equal((await ctx.request.get(`${keystage}/api/v3/core/users/me/`)).status(), 200);
    // sign out of the application: Keystage's end-session, the invalidation flow, back with the state
    await p.click('#logout');
    await p.waitForURL(`${rpBase}/logged-out?state=bye`, { timeout: 15000 });
    assert.equal(await p.textContent('#status'), 'Signed out (bye)');
    assert.equal((await ctx.request.get(`${keystage}/api/v3/core/users/me/`)).status(), 403, 'the Keystage session is over');
    // signing in again asks for the login again
    await p.goto(`${rpBase}/login`);
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    await ctx.close();
  });
});
