/**
 * Logging in through the real page in Debian's Chromium: what a person sees (text, focus, disabled state), with a
 * screenshot of each challenge type under test-results/ and an axe-core check of each.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';
import { hashStaticToken } from '../../src/mfa/static/static.js';
import { activeElementId, axeViolations, createUser, passkeyFor, screenshot, stageOf } from './page.js';
import { bindSkipPolicy } from '../helpers/flows.js';
import { addTotpDevice } from '../helpers/devices.js';

const SECRET = 'e2e-secret-key-' + 'k'.repeat(32);

describe('login page in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let origin: string;

  before(async () => {
    srv = await startServer('sqlite', { secretKey: SECRET });
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  async function page(width = 1280): Promise<Page> {
    const ctx = await browser.newContext({ viewport: { width, height: 800 } });
    return ctx.newPage();
  }

  async function identify(p: Page, uid: string) {
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    assert.equal(await activeElementId(p, 'uid_field'), 'uid_field', 'focus starts in the user field');
    await p.fill('#uid_field', uid);
    await p.keyboard.press('Enter');
  }

  async function expectLoggedIn(p: Page, username: string) {
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), username);
    assert.match(p.url(), /\/if\/user\/$/);
  }

  it('username + password, readable at 360 px, no serious accessibility violations', async () => {
    await createUser(srv, 'alice', 'alice-password-1');
    const p = await page(360);
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    assert.equal(await p.textContent('label[for=uid_field]'), 'Email or Username');
    assert.equal(await p.getAttribute('#uid_field', 'autocomplete'), 'username webauthn');
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth <= 360), true, 'no horizontal scrolling at 360 px');
    await screenshot(p, 'identification');
    assert.deepEqual(await axeViolations(p), []);
    await p.fill('#uid_field', 'alice');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    assert.equal(await stageOf(p), 'ak-stage-password');
    assert.equal(await activeElementId(p, 'password'), 'password', 'focus moves to the password');
    assert.equal(await p.getAttribute('#password', 'autocomplete'), 'current-password');
    assert.match((await p.textContent('.ks-user')) ?? '', /alice/);
    await screenshot(p, 'password');
    assert.deepEqual(await axeViolations(p), []);
    await p.fill('#password', 'alice-password-1');
    await p.keyboard.press('Enter');
    await expectLoggedIn(p, 'alice');
    await screenshot(p, 'user-page');
    // the logout link runs the invalidation flow and ends the server-side session; it ends at `/`, which sends
    // someone not logged in to the brand's login (authentik's root redirect)
    await p.click('#ks-logout');
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    assert.match(p.url(), /\/if\/flow\/default-authentication-flow\/$/);
    assert.equal(await p.evaluate(async () => (await fetch('/api/v3/core/users/me/')).status), 403, 'the session is over');
    await p.context().close();
  });

  it('a wrong password shows an error beside the field, then the right one logs in', async () => {
    await createUser(srv, 'bob', 'bob-password-1');
    const p = await page();
    await identify(p, 'bob');
    await p.waitForSelector('#password');
    await p.fill('#password', 'not-it');
    const button = p.locator('button[type=submit]');
    const submitted = p.keyboard.press('Enter');
    await submitted;
    await p.waitForSelector('#err-password');
    assert.equal((await p.textContent('#err-password'))?.trim(), 'Invalid password');
    assert.equal(await p.getAttribute('#password', 'aria-describedby'), 'err-password');
    assert.equal(await p.getAttribute('#password', 'aria-invalid'), 'true');
    assert.equal(await button.isDisabled(), false, 'the button is enabled again after the answer');
    await screenshot(p, 'password-error');
    assert.deepEqual(await axeViolations(p), []);
    await p.fill('#password', 'bob-password-1');
    await p.keyboard.press('Enter');
    await expectLoggedIn(p, 'bob');
    await p.context().close();
  });

  it('email + password + TOTP code', async () => {
    const id = await createUser(srv, 'carol', 'carol-password-1', 'carol@example.org');
    const { key } = await addTotpDevice(srv.app.store.db, id);
    const p = await page();
    await identify(p, 'Carol@Example.org');
    await p.waitForSelector('#password');
    await p.fill('#password', 'carol-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#code');
    assert.equal(await stageOf(p), 'ak-stage-authenticator-validate');
    assert.equal(await p.getAttribute('#code', 'autocomplete'), 'one-time-code');
    assert.equal(await activeElementId(p, 'code'), 'code');
    await screenshot(p, 'authenticator-validate-totp');
    assert.deepEqual(await axeViolations(p), []);
    await p.fill('#code', '000000' === totpAt(key, currentStep({ t0: 0, step: 30 }), 6) ? '111111' : '000000');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#err-code');
    assert.match((await p.textContent('#err-code')) ?? '', /Invalid Token/);
    // a failed code throttles the device for 1 s (totp_otp_throttling_factor 1), as a person's retyping would take
    await new Promise((r) => setTimeout(r, 1100));
    await p.fill('#code', totpAt(key, currentStep({ t0: 0, step: 30 }), 6));
    await p.keyboard.press('Enter');
    await expectLoggedIn(p, 'carol');
    await p.context().close();
  });

  it('a static recovery code, chosen from the device picker', async () => {
    const id = await createUser(srv, 'dave', 'dave-password-1');
    const now = new Date().toISOString();
    const db = srv.app.store.db;
    const dev = await db
      .insertInto('static_devices')
      .values({
        user_id: id,
        name: 'backup',
        confirmed: 1,
        created: now,
        last_updated: now,
        last_used: null,
        throttling_failure_timestamp: null,
        throttling_failure_count: 0,
      } as never)
      .returning('id')
      .executeTakeFirstOrThrow();
    await db
      .insertInto('static_tokens')
      .values({ device_id: dev.id, token: hashStaticToken(SECRET, 'RecoveryCode42') } as never)
      .execute();
    await addTotpDevice(db, id, { created: now });
    const p = await page();
    await identify(p, 'dave');
    await p.waitForSelector('#password');
    await p.fill('#password', 'dave-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('text=Choose how to confirm it');
    await screenshot(p, 'authenticator-validate-picker');
    assert.deepEqual(await axeViolations(p), []);
    await p.click('button:has-text("Recovery code")');
    await p.waitForSelector('#code');
    assert.equal(await p.textContent('label[for=code]'), 'Recovery code');
    await p.fill('#code', 'RecoveryCode42');
    await p.keyboard.press('Enter');
    await expectLoggedIn(p, 'dave');
    const left = await db.selectFrom('static_tokens').select('id').where('device_id', '=', dev.id).execute();
    assert.equal(left.length, 0, 'the code is spent');
    await p.context().close();
  });

  it('a WebAuthn passkey through Chromium’s virtual authenticator', async () => {
    const id = await createUser(srv, 'erin', 'erin-password-1');
    const p = await page();
    await passkeyFor(srv, p, id, { name: 'virtual key', resident: false, transport: 'usb' });
    await identify(p, 'erin');
    await p.waitForSelector('#password');
    await p.fill('#password', 'erin-password-1');
    await p.keyboard.press('Enter');
    await expectLoggedIn(p, 'erin');
    const row = await srv.app.store.db
      .selectFrom('webauthn_devices')
      .select(['sign_count', 'last_used'])
      .where('user_id', '=', id)
      .executeTakeFirstOrThrow();
    assert.ok(row.sign_count >= 1, 'the new signature counter is stored');
    assert.ok(row.last_used, 'last_used is set');
    await p.context().close();
  });

  it('a passkey as the first factor (identification with webauthn_stage): no password, no second prompt', async () => {
    const id = await createUser(srv, 'grace', 'grace-password-1');
    const stagePk = async (path: string, name: string) => (await call(srv, 'GET', `${path}?name=${name}`)).body.results[0].pk as string;
    const mfa = await stagePk('/stages/authenticator/validate/', 'default-authentication-mfa-validation');
    const ident = await call(srv, 'POST', '/stages/identification/', {
      name: 'passkey-identification',
      user_fields: ['username'],
      webauthn_stage: mfa,
    });
    const flow = await call(srv, 'POST', '/flows/instances/', {
      name: 'Passkey',
      slug: 'passkey-login',
      title: 'Passkey login',
      designation: 'authentication',
    });
    const bind = (stage: string, order: number) => call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage, order });
    await bind(ident.body.pk, 10);
    await bind(await stagePk('/stages/password/', 'default-authentication-password'), 20);
    await bind(mfa, 30);
    await bind(await stagePk('/stages/user_login/', 'default-authentication-login'), 40);
    // authentik's two default policies, bound as in its default flow: no password, no MFA after a passkey
    await bindSkipPolicy(srv, 'passkey-login', await stagePk('/stages/password/', 'default-authentication-password'));
    await bindSkipPolicy(srv, 'passkey-login', mfa, 'default-authentication-flow-authenticator-validate-stage');

    const p = await page();
    await passkeyFor(srv, p, id, { name: 'passkey', resident: true, transport: 'internal' });
    // on the flow page the browser's passkey autofill (conditional mediation) waits for the person to pick the
    // passkey, which headless Chromium cannot show; so this test plays the page's part from a same-origin page:
    // fetch the user-less challenge, answer it with the authenticator, and submit the assertion
    await p.goto(`${origin}/static/dist/keystage.css?next=%2Fif%2Fuser%2F`);
    // a plain script (not a compiled function: the test runner's transpiler would add helpers the page lacks)
    const result = (await p.evaluate(`(async () => {
      const url = '/api/v3/flows/executor/passkey-login/?query=' + encodeURIComponent('next=/if/user/');
      const ch = await (await fetch(url, { headers: { accept: 'application/json' } })).json();
      const opts = ch.passkey_challenge;
      const b64 = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), (c) => c.charCodeAt(0));
      const cred = await navigator.credentials.get({ publicKey: { challenge: b64(opts.challenge), rpId: opts.rpId, allowCredentials: [], userVerification: opts.userVerification } });
      const r = cred.response;
      const enc = (b) => (b ? btoa(String.fromCharCode(...new Uint8Array(b))).replace(/[+]/g, '-').replace(/[/]/g, '_').replace(/=+$/, '') : null);
      const passkey = { id: cred.id, rawId: enc(cred.rawId), type: cred.type, response: { clientDataJSON: enc(r.clientDataJSON), authenticatorData: enc(r.authenticatorData), signature: enc(r.signature), userHandle: enc(r.userHandle) } };
      const csrf = (document.cookie.split('; ').find((c) => c.startsWith('authentik_csrf=')) || '=').split('=')[1];
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json', 'x-authentik-csrf': csrf }, body: JSON.stringify({ component: 'ak-stage-identification', passkey }) });
      return res.json();
    })()`)) as { component: string; to: string };
    assert.equal(result.component, 'xak-flow-redirect', JSON.stringify(result));
    assert.equal(result.to, '/if/user/');
    await p.goto(`${origin}/if/user/`);
    await expectLoggedIn(p, 'grace');
    const ev = await call(srv, 'GET', '/events/events/?actions=login&username=grace');
    assert.equal(ev.body.results[0].context.auth_method, 'auth_webauthn_pwl');
    await p.context().close();
  });

  it('a passwordless flow linked from identification: the passkey alone logs in', async () => {
    const id = await createUser(srv, 'hedy', 'hedy-password-1');
    const validate = await call(srv, 'POST', '/stages/authenticator/validate/', {
      name: 'pwl-e2e-validate',
      device_classes: ['webauthn'],
      not_configured_action: 'deny',
    });
    const login = (await call(srv, 'GET', '/stages/user_login/?name=default-authentication-login')).body.results[0].pk as string;
    const flow = await call(srv, 'POST', '/flows/instances/', {
      name: 'Passwordless',
      slug: 'e2e-passwordless',
      title: 'Sign in with a passkey',
      designation: 'authentication',
    });
    await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: validate.body.pk, order: 10 });
    await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: login, order: 20 });
    const ident = (await call(srv, 'GET', '/stages/identification/?name=default-authentication-identification')).body.results[0]
      .pk as string;
    await call(srv, 'PATCH', `/stages/identification/${ident}/`, { passwordless_flow: flow.body.pk });
    try {
      const p = await page();
      await passkeyFor(srv, p, id, { name: 'hedy passkey', resident: true, transport: 'internal' });
      await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
      await p.waitForSelector('#uid_field');
      await p.click('text=Use a security key');
      // the validation stage asks for any passkey (nobody is identified yet); the virtual authenticator answers
      await expectLoggedIn(p, 'hedy');
      const ev = await call(srv, 'GET', '/events/events/?actions=login&username=hedy');
      assert.equal(ev.body.results[0].context.auth_method, 'auth_webauthn_pwl');
      await p.context().close();
    } finally {
      await call(srv, 'PATCH', `/stages/identification/${ident}/`, { passwordless_flow: null });
    }
  });

  it('the access-denied and flow-error pages are readable', async () => {
    const deny = await call(srv, 'POST', '/stages/deny/', { name: 'e2e-deny', deny_message: 'Not today.' });
    const flow = await call(srv, 'POST', '/flows/instances/', {
      name: 'Denied',
      slug: 'e2e-denied',
      title: 'Denied flow',
      designation: 'authentication',
    });
    await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: deny.body.pk, order: 10 });
    const p = await page();
    await p.goto(`${origin}/if/flow/e2e-denied/`);
    await p.waitForSelector('text=Not today.');
    assert.match((await p.textContent('[role=alert]')) ?? '', /Request has been denied/);
    await screenshot(p, 'access-denied');
    assert.deepEqual(await axeViolations(p), []);
    await p.context().close();
  });
});
