/**
 * Enrolling a second factor in the real page (Chromium): TOTP from the secret shown on the page, recovery codes
 * saved from the page and used later, and a passkey registered with Chromium's virtual authenticator and then
 * used to log in; Duo's activation noticed by the page's polling (a Duo double on 127.0.0.1).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { generateTOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { launchChromium } from '../helpers/browser-chromium.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { axeViolations, createUser, screenshot } from './page.js';
import { createStage, defaultStages, flowOf } from '../helpers/flows.js';
import { FakeDuo } from '../helpers/fake-duo.js';

describe('MFA enrolment in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let origin: string;
  let duo: FakeDuo;
  const flows: Record<string, string> = {};

  before(async () => {
    srv = await startServer('sqlite');
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    duo = await new FakeDuo('DIXXXXXXXXXXXXXXXXXX', 'duo-secret-key-0123456789').start();
    const s = await defaultStages(srv);
    for (const [kind, path, body] of [
      [
        'duo',
        '/stages/authenticator/duo/',
        { client_id: 'DIXXXXXXXXXXXXXXXXXX', client_secret: 'duo-secret-key-0123456789', api_hostname: duo.url },
      ],
      ['totp', '/stages/authenticator/totp/', { digits: 6, friendly_name: 'Authenticator app' }],
      ['static', '/stages/authenticator/static/', { token_count: 4 }],
      ['webauthn', '/stages/authenticator/webauthn/', { friendly_name: 'Passkey', resident_key_requirement: 'required' }],
    ] as const) {
      const setup = await createStage(srv, path, { name: `e2e-setup-${kind}`, ...body });
      const validate = await createStage(srv, '/stages/authenticator/validate/', {
        name: `e2e-validate-${kind}`,
        not_configured_action: 'configure',
        configuration_stages: [setup],
      });
      flows[kind] = await flowOf(srv, `e2e-enrol-${kind}`, [s.identification, s.password, validate, s.login]);
    }
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    await duo?.close();
  });

  async function upToMfa(p: Page, slug: string, user: string) {
    await p.goto(`${origin}/if/flow/${slug}/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.fill('#uid_field', user);
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', `${user}-password-1`);
    await p.keyboard.press('Enter');
  }
  const loggedIn = async (p: Page, user: string) => {
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), user);
  };

  it('TOTP: scan (read the key from the page), enter the code, and the next login asks for it', async () => {
    await createUser(srv, 'xena', 'xena-password-1');
    const p = await (await browser.newContext()).newPage();
    await upToMfa(p, flows.totp!, 'xena');
    await p.waitForSelector('#ks-totp-secret');
    await p.waitForSelector('.ks-qr svg');
    await screenshot(p, 'authenticator-totp-setup');
    assert.deepEqual(await axeViolations(p), []);
    const secret = (await p.textContent('#ks-totp-secret'))!.trim();
    await p.fill('#code', generateTOTP(decodeBase32IgnorePadding(secret), 30, 6));
    await p.keyboard.press('Enter');
    await loggedIn(p, 'xena');
    await p.context().close();
    const q = await (await browser.newContext()).newPage();
    await upToMfa(q, flows.totp!, 'xena');
    await q.waitForSelector('label[for=code]');
    assert.equal(await q.textContent('label[for=code]'), 'Code from your authenticator app');
    await q.context().close();
  });

  it('recovery codes: saved from the page, one used on the next login', async () => {
    await createUser(srv, 'yuri', 'yuri-password-1');
    const p = await (await browser.newContext()).newPage();
    await upToMfa(p, flows.static!, 'yuri');
    await p.waitForSelector('#ks-static-codes li');
    const codes = (await p.locator('#ks-static-codes code').allTextContents()).map((c) => c.trim());
    assert.equal(codes.length, 4);
    await screenshot(p, 'authenticator-static-setup');
    assert.deepEqual(await axeViolations(p), []);
    await p.click('button[type=submit]');
    await loggedIn(p, 'yuri');
    await p.context().close();
    const q = await (await browser.newContext()).newPage();
    await upToMfa(q, flows.static!, 'yuri');
    await q.waitForSelector('#code');
    await q.fill('#code', codes[2]!);
    await q.keyboard.press('Enter');
    await loggedIn(q, 'yuri');
    await q.context().close();
  });

  it('a passkey: registered through navigator.credentials.create, then used to log in', async () => {
    await createUser(srv, 'zoe', 'zoe-password-1');
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    const cdp = await ctx.newCDPSession(p);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: {
        protocol: 'ctap2',
        transport: 'internal',
        hasResidentKey: true,
        hasUserVerification: true,
        isUserVerified: true,
        automaticPresenceSimulation: true,
      },
    });
    await upToMfa(p, flows.webauthn!, 'zoe');
    await loggedIn(p, 'zoe');
    const devices = await srv.app.store.db
      .selectFrom('webauthn_devices')
      .innerJoin('users', 'users.id', 'webauthn_devices.user_id')
      .select(['webauthn_devices.name', 'rp_id'])
      .where('users.username', '=', 'zoe')
      .execute();
    assert.deepEqual(devices, [{ name: 'Passkey', rp_id: 'localhost' }]);
    // log out, log in again: the validation stage asks the same authenticator
    await p.goto(`${origin}/flows/-/default/invalidation/`);
    // (logged out, `/` sends to the login: authentik's root redirect)
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    await upToMfa(p, flows.webauthn!, 'zoe');
    await loggedIn(p, 'zoe');
    await ctx.close();
  });

  it('Duo: the page notices the activation by itself (enrollment_status) and logs in', async () => {
    await createUser(srv, 'duoyan', 'duoyan-password-1');
    const p = await (await browser.newContext()).newPage();
    await upToMfa(p, flows.duo!, 'duoyan');
    await p.waitForSelector('#ks-duo-code');
    // the page asks every 3 s: wait for its first question, then activate at Duo
    const asked = async () => duo.calls.find((c) => c.path === '/auth/v2/enroll_status');
    for (let i = 0; i < 100 && !(await asked()); i++) await new Promise((r) => setTimeout(r, 100));
    const first = (await asked())!;
    assert.equal(first.signatureValid, true);
    assert.equal(await p.textContent('#ks-duo-code'), first.params.activation_code);
    duo.activated.add(first.params.user_id!);
    await loggedIn(p, 'duoyan');
    const pk = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'duoyan').executeTakeFirstOrThrow();
    const device = await srv.app.store.db
      .selectFrom('duo_devices')
      .select('duo_user_id')
      .where('user_id', '=', pk.id)
      .executeTakeFirstOrThrow();
    assert.equal(device.duo_user_id, first.params.user_id);
    await p.context().close();
  });
});
