/**
 * Logging in through a SAML identity provider in the real page (Chromium): the login page shows the SAML source's
 * button; the person follows it to a fake IdP on another site (127.0.0.1 against Keystage's localhost), whose form
 * posts the signed response back across sites — a POST Chromium sends without the SameSite=Lax session cookie —
 * and Keystage's ACS page posts it again from its own origin, with the cookie, so the login completes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { flowPks, onLoginPage } from '../helpers/sources.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { FakeSamlIdp } from '../helpers/fake-saml-idp.js';
import { sessionRow } from '../helpers/flows.js';

describe('login through a SAML source in Chromium', () => {
  let srv: TestServer;
  let idp: FakeSamlIdp;
  let browser: Browser;
  let origin: string;

  before(async () => {
    srv = await startServer('sqlite');
    origin = srv.url.replace('127.0.0.1', 'localhost');
    const pair = await call(srv, 'POST', '/crypto/certificatekeypairs/generate/', { common_name: 'idp', validity_days: 30, alg: 'rsa' });
    const cert = (await call(srv, 'GET', `/crypto/certificatekeypairs/${pair.body.pk}/view_certificate/`)).body.data;
    const key = (await call(srv, 'GET', `/crypto/certificatekeypairs/${pair.body.pk}/view_private_key/`)).body.data;
    idp = await new FakeSamlIdp(key, cert).start();
    const flows = await flowPks(srv);
    const source = await call(srv, 'POST', '/sources/saml/', {
      name: 'Company SAML',
      slug: 'company-saml',
      sso_url: `${idp.url}/sso`,
      pre_authentication_flow: flows['default-source-pre-authentication'],
      authentication_flow: flows['default-source-authentication'],
      enrollment_flow: flows['default-source-enrollment'],
      verification_kp: pair.body.pk,
    });
    assert.equal(source.status, 201, JSON.stringify(source.body));
    await onLoginPage(srv, source.body.pk);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await Promise.all([srv?.close(), idp?.close()]);
  });

  it('the button leads to the IdP; its cross-site post is relayed once and the person is logged in', async () => {
    idp.nextUser = { nameId: 'erin', attributes: { email: ['erin@company.example'] } };
    const context = await browser.newContext();
    const p = await context.newPage();
    const acsPosts: string[] = [];
    p.on('request', (r) => {
      if (r.method() === 'POST' && r.url().endsWith('/source/saml/company-saml/acs/')) acsPosts.push(r.postData() ?? '');
    });
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    const button = await p.waitForSelector('a.ks-source');
    assert.equal((await button.textContent())?.trim(), 'Company SAML');
    await button.click();
    // the IdP's page: its form posts the response to Keystage's ACS (another site)
    await p.waitForSelector('text=Sign in', { timeout: 15000 });
    assert.ok(p.url().startsWith(`${idp.url}/sso?SAMLRequest=`), p.url());
    await p.click('text=Sign in');
    // the default source enrollment creates external users, whom authentik's user interface turns away
    await p.waitForSelector('text=Interface can only be accessed by internal users.', { timeout: 15000 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nat ${p.url()}:\n${(await p.content()).slice(0, 3000)}`);
    });
    assert.equal(new URL(p.url()).pathname, '/if/user/');
    // the IdP's post came without the cookie and was posted again from Keystage's page, once
    assert.equal(acsPosts.length, 2);
    assert.doesNotMatch(acsPosts[0]!, /ks_relayed/);
    assert.match(acsPosts[1]!, /ks_relayed=1/);
    const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'erin').executeTakeFirstOrThrow();
    assert.equal(user.email, 'erin@company.example');
    const cookie = (await context.cookies()).find((c) => c.name === 'authentik_session');
    assert.equal((await sessionRow(srv, cookie?.value))?.user_id, user.id);
    await context.close();
  });
});
