/**
 * Chromium end to end with a sample SAML service provider: a few lines of node:http using @node-saml/node-saml on
 * 127.0.0.1 (Keystage as localhost: two sites) send a person to Keystage by the POST binding, who logs in on the login
 * page and comes back signed in with the expected NameID and attributes; a second sign-in (the SP's cross-site POST
 * arrives without Keystage's SameSite=Lax cookie) goes through without a login; signing out of the application
 * (SP-initiated logout, native front channel) ends the Keystage session and comes back with a valid LogoutResponse;
 * a logout at Keystage takes the browser through the SP's logout and back to the flow (IdP-initiated, native).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { SAML, type Profile } from '@node-saml/node-saml';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { createUser, logInOnPage, screenshot } from './page.js';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** the sample service provider: /, /login, /acs, /logout, /sls */
function sampleSp(saml: () => SAML, base: () => string): Server {
  const sessions = new Map<string, { profile?: Profile; note?: string }>();
  return createServer(async (req, res) => {
    const url = new URL(req.url!, base());
    const sid = /(?:^|; )sp=([\w-]+)/.exec(req.headers.cookie ?? '')?.[1] ?? randomBytes(16).toString('hex');
    const s = sessions.get(sid) ?? {};
    sessions.set(sid, s);
    res.setHeader('set-cookie', `sp=${sid}; Path=/; HttpOnly; SameSite=Lax`);
    const send = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
      res.end(`<!DOCTYPE html><html lang="en"><head><title>Sample SP</title></head><body><main>${body}</main></body></html>`);
    };
    const redirect = (to: string) => {
      res.writeHead(302, { location: to });
      res.end();
    };
    try {
      if (url.pathname === '/login') return send(200, await saml().getAuthorizeFormAsync('back-home'));
      if (url.pathname === '/acs' && req.method === 'POST') {
        let body = '';
        for await (const chunk of req) body += chunk;
        const form = Object.fromEntries(new URLSearchParams(body));
        const { profile } = await saml().validatePostResponseAsync(form);
        s.profile = profile ?? undefined;
        s.note = form.RelayState;
        return redirect('/');
      }
      if (url.pathname === '/logout') {
        const to = await saml().getLogoutUrlAsync(s.profile!, 'bye', {});
        s.profile = undefined;
        return redirect(to);
      }
      if (url.pathname === '/sls' && url.searchParams.has('SAMLRequest')) {
        // Keystage's LogoutRequest (a logout there, native front channel): this session ends, and the browser goes
        // back with the LogoutResponse and Keystage's RelayState
        const r = await saml().validateRedirectAsync(Object.fromEntries(url.searchParams), url.search.slice(1));
        if (r.profile?.nameID === s.profile?.nameID) s.profile = undefined;
        return redirect(await saml().getLogoutResponseUrlAsync(r.profile!, url.searchParams.get('RelayState') ?? '', {}, true));
      }
      if (url.pathname === '/sls') {
        const r = await saml().validateRedirectAsync(Object.fromEntries(url.searchParams), url.search.slice(1));
        return send(
          200,
          `<p id="status">Signed out (${r.loggedOut ? 'logged out' : 'not'}, ${esc(url.searchParams.get('RelayState') ?? '')})</p>`,
        );
      }
      if (s.profile)
        return send(
          200,
          `<p id="status">Signed in as ${esc(String(s.profile['http://schemas.goauthentik.io/2021/02/saml/username']))}</p>` +
            `<pre id="profile">${esc(JSON.stringify({ ...s.profile, relay: s.note }))}</pre><a id="logout" href="/logout">Sign out</a>`,
        );
      return send(200, '<p id="status">Not signed in</p><a id="login" href="/login">Sign in with Keystage</a>');
    } catch (e) {
      return send(500, `<p id="error">${esc(String(e))}</p>`);
    }
  });
}

describe('a sample SAML service provider in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let sp: Server;
  let spBase = '';
  let keystage = '';
  let saml: SAML;

  before(async () => {
    srv = await startServer('sqlite');
    keystage = srv.url.replace('127.0.0.1', 'localhost');
    sp = sampleSp(
      () => saml,
      () => spBase,
    );
    await new Promise<void>((r) => sp.listen(0, '127.0.0.1', r));
    spBase = `http://127.0.0.1:${(sp.address() as AddressInfo).port}`;
    const flows = await call(srv, 'GET', '/flows/instances/?page_size=100');
    const flowPk = (slug: string) => flows.body.results.find((f: { slug: string }) => f.slug === slug).pk;
    const kps = await call(srv, 'GET', '/crypto/certificatekeypairs/?has_key=true');
    const kp = kps.body.results[0].pk as string;
    const cert = (await call(srv, 'GET', `/crypto/certificatekeypairs/${kp}/view_certificate/`)).body.data as string;
    const mappings = await call(srv, 'GET', '/propertymappings/provider/saml/?managed__isnull=false&page_size=100');
    const p = await call(srv, 'POST', '/providers/saml/', {
      name: 'Sample SP',
      authorization_flow: flowPk('default-provider-authorization-implicit-consent'),
      invalidation_flow: flowPk('default-provider-invalidation-flow'),
      acs_url: `${spBase}/acs`,
      sls_url: `${spBase}/sls`,
      audience: `${spBase}/metadata`,
      sp_binding: 'post',
      logout_method: 'frontchannel_native',
      signing_kp: kp,
      sign_logout_response: true,
      sign_logout_request: true,
      property_mappings: mappings.body.results.map((m: { pk: string }) => m.pk),
    });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    assert.equal(
      (await call(srv, 'POST', '/core/applications/', { name: 'Sample SP', slug: 'sample-sp', provider: p.body.pk })).status,
      201,
    );
    saml = new SAML({
      callbackUrl: `${spBase}/acs`,
      issuer: `${spBase}/metadata`,
      audience: `${spBase}/metadata`,
      idpCert: cert,
      entryPoint: `${keystage}/application/saml/sample-sp/sso/binding/post/`,
      logoutUrl: `${keystage}/application/saml/sample-sp/slo/binding/redirect/`,
      authnRequestBinding: 'HTTP-POST',
      skipRequestCompression: true,
      wantAssertionsSigned: true,
      wantAuthnResponseSigned: false,
      identifierFormat: 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress',
      acceptedClockSkewMs: 5000,
      disableRequestedAuthnContext: true,
    });
    await createUser(srv, 'alice', 'alice-password-1');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await new Promise((r) => sp?.close(r));
    await srv?.close();
  });

  it('sign in on the login page; the NameID and attributes; again without a login; sign out ends the Keystage session', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${spBase}/`);
    assert.equal(await p.textContent('#status'), 'Not signed in');
    await p.click('#login');
    // Keystage's login page
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    assert.ok(p.url().startsWith(`${keystage}/if/flow/default-authentication-flow/`), p.url());
    await p.fill('#uid_field', 'alice');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', 'alice-password-1');
    await p.keyboard.press('Enter');
    // back at the service provider, signed in
    await p.waitForSelector('#profile', { timeout: 15000 });
    assert.ok(p.url().startsWith(`${spBase}/`), p.url());
    assert.equal(await p.textContent('#status'), 'Signed in as alice');
    const profile = JSON.parse((await p.textContent('#profile'))!);
    assert.equal(profile.nameID, 'alice@example.com');
    assert.equal(profile.issuer, `${keystage}/application/saml/sample-sp/metadata/`);
    assert.equal(profile['http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'], 'alice Example');
    assert.equal(profile.relay, 'back-home');
    await screenshot(p, 'saml-signed-in');
    // a second sign-in: the SP's cross-site POST comes without Keystage's cookie, is posted again from Keystage, and
    // the logged-in session answers it without a login
    await p.goto(`${spBase}/login`);
    await p.waitForSelector('#profile', { timeout: 15000 });
    assert.equal(await p.textContent('#status'), 'Signed in as alice');
    assert.equal((await ctx.request.get(`${keystage}/api/v3/core/users/me/`)).status(), 200);
    // sign out of the service provider: Keystage's SLO, the invalidation flow, the LogoutResponse
    await p.click('#logout');
    await p.waitForURL((u) => u.href.startsWith(`${spBase}/sls`), { timeout: 15000 });
    assert.equal(await p.textContent('#status'), 'Signed out (logged out, bye)');
    assert.equal((await ctx.request.get(`${keystage}/api/v3/core/users/me/`)).status(), 403, 'the Keystage session is over');
    await ctx.close();
  });

  it("a logout at Keystage takes the browser through the service provider's logout and back (native front channel)", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${spBase}/login`);
    await logInOnPage(p, 'alice', 'alice-password-1');
    await p.waitForSelector('#profile', { timeout: 15000 });
    assert.equal(await p.textContent('#status'), 'Signed in as alice');
    // log out at Keystage: the flow sends the browser to the SP's SLS URL with a signed LogoutRequest, the SP answers
    // to Keystage's SLO endpoint, which brings the browser back to the flow, which ends (at the login)
    const seen: string[] = [];
    p.on('request', (r) => {
      if (r.isNavigationRequest()) seen.push(new URL(r.url()).pathname);
    });
    await p.goto(`${keystage}/flows/-/default/invalidation/`);
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    assert.ok(seen.includes('/sls'), seen.join(' '));
    assert.ok(seen.includes('/application/saml/sample-sp/slo/binding/redirect/'), seen.join(' '));
    assert.equal((await ctx.request.get(`${keystage}/api/v3/core/users/me/`)).status(), 403, 'the Keystage session is over');
    await p.goto(`${spBase}/`);
    assert.equal(await p.textContent('#status'), 'Not signed in', "the SP's session is over");
    await ctx.close();
  });
});
