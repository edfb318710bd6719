/**
 * The login page's short path in Debian's Chromium: the first challenge comes with the page, and each stage after it
 * costs the page exactly one request (a POST answered with the next challenge, no 302 and no GET), counted from the
 * browser's own request events.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Request } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { addTotpDevice } from '../helpers/devices.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';
import { createUser, stageOf } from './page.js';

describe('login page: one request per stage (Chromium)', () => {
  let srv: TestServer;
  let browser: Browser;
  let origin: string;

  before(async () => {
    srv = await startServer('sqlite');
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  /** the page's requests that are not its static files (script, style sheet, images) */
  const dynamic = (r: Request) => !new URL(r.url()).pathname.startsWith('/static/') && !r.url().endsWith('/favicon.ico');
  const describeRequest = (r: Request) => `${r.method()} ${new URL(r.url()).pathname}`;

  it('password + TOTP: the page, then one POST per stage, and the person is logged in', async () => {
    const id = await createUser(srv, 'petra', 'petra-password-1');
    const { key } = await addTotpDevice(srv.app.store.db, id);
    const p = await (await browser.newContext()).newPage();
    const requests: Request[] = [];
    const statuses: number[] = [];
    p.on('request', (r) => {
      if (dynamic(r)) requests.push(r);
    });
    p.on('response', (r) => {
      // the login flow's answers (the user page then runs the settings flow through the executor too)
      if (r.url().includes('/api/v3/flows/executor/default-authentication-flow/')) statuses.push(r.status());
    });
    const seen = () => requests.map(describeRequest);

    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    // nothing after loading: the identification stage came with the page
    await p.waitForTimeout(200);
    assert.deepEqual(seen(), ['GET /if/flow/default-authentication-flow/']);
    assert.equal(await p.locator('#ks-first-challenge').count(), 0, 'the embedded challenge is read once and removed');

    await p.fill('#uid_field', 'petra');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    assert.equal(await stageOf(p), 'ak-stage-password');
    assert.deepEqual(seen().slice(1), ['POST /api/v3/flows/executor/default-authentication-flow/']);

    await p.fill('#password', 'petra-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#code');
    assert.equal(await stageOf(p), 'ak-stage-authenticator-validate');
    assert.equal(seen().length, 3);

    await p.fill('#code', totpAt(key, currentStep({ t0: 0, step: 30 }), 6));
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), 'petra');
    assert.match(p.url(), /\/if\/user\/$/);

    // the login itself: the page and three POSTs (identification, password, code); then the user page loads
    const login = seen().slice(0, seen().indexOf('GET /if/user/'));
    assert.deepEqual(login, [
      'GET /if/flow/default-authentication-flow/',
      'POST /api/v3/flows/executor/default-authentication-flow/',
      'POST /api/v3/flows/executor/default-authentication-flow/',
      'POST /api/v3/flows/executor/default-authentication-flow/',
    ]);
    assert.deepEqual(statuses, [200, 200, 200], 'no 302 from the executor');
    await p.context().close();
  });

  it('a wrong password is answered in place, and the right one logs in', async () => {
    await createUser(srv, 'rolf', 'rolf-password-1');
    const p = await (await browser.newContext()).newPage();
    const requests: Request[] = [];
    p.on('request', (r) => {
      if (dynamic(r)) requests.push(r);
    });
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.fill('#uid_field', 'rolf');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', 'wrong-password');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#err-password, .ks-field-error, [role=alert]');
    assert.equal(requests.length, 3);
    await p.fill('#password', 'rolf-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    const login = requests.map(describeRequest);
    assert.deepEqual(login.slice(0, login.indexOf('GET /if/user/')), [
      'GET /if/flow/default-authentication-flow/',
      'POST /api/v3/flows/executor/default-authentication-flow/',
      'POST /api/v3/flows/executor/default-authentication-flow/',
      'POST /api/v3/flows/executor/default-authentication-flow/',
    ]);
    await p.context().close();
  });

  it('without an embedded challenge (another page embedding the element) the executor GETs it, as before', async () => {
    const p = await (await browser.newContext()).newPage();
    const requests: Request[] = [];
    p.on('request', (r) => {
      if (dynamic(r)) requests.push(r);
    });
    await p.route('**/if/flow/default-authentication-flow/', async (route) => {
      const res = await route.fetch();
      const html = (await res.text()).replace(/<script type="application\/json" id="ks-first-challenge">.*?<\/script>/s, '');
      await route.fulfill({ response: res, body: html });
    });
    await p.goto(`${origin}/if/flow/default-authentication-flow/`);
    await p.waitForSelector('#uid_field');
    assert.deepEqual(requests.map(describeRequest), [
      'GET /if/flow/default-authentication-flow/',
      'GET /api/v3/flows/executor/default-authentication-flow/',
    ]);
    await p.context().close();
  });
});
