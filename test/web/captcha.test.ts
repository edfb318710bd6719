/**
 * Captcha in the real page: the provider's widget script and siteverify endpoint come from a fake provider on
 * 127.0.0.1 implementing the Turnstile, hCaptcha and reCAPTCHA browser APIs and their verify protocol.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { FakeCaptcha, type Provider } from '../helpers/fake-captcha.js';
import { axeViolations, createUser, screenshot } from './page.js';
import { createStage, defaultStages, flowOf } from '../helpers/flows.js';

describe('captcha in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let provider: FakeCaptcha;
  let stages: Awaited<ReturnType<typeof defaultStages>>;

  before(async () => {
    srv = await startServer('sqlite');
    provider = await new FakeCaptcha().start();
    browser = await launchChromium();
    stages = await defaultStages(srv);
    await createUser(srv, 'hana', 'hana-password-1');
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    await provider?.close();
  });

  const captchaStage = (name: string, p: Provider, interactive: boolean) =>
    createStage(srv, '/stages/captcha/', {
      name,
      public_key: `site-${p}`,
      private_key: `secret-${p}`,
      js_url: provider.script(p),
      api_url: provider.siteverify(),
      interactive,
    });

  it('identification with embedded password and an invisible Turnstile widget', async () => {
    const captcha = await captchaStage('e2e-turnstile', 'turnstile', false);
    const ident = await createStage(srv, '/stages/identification/', {
      name: 'e2e-id-captcha',
      user_fields: ['username'],
      password_stage: stages.password,
      captcha_stage: captcha,
    });
    const slug = await flowOf(srv, 'e2e-captcha-embedded', [ident, stages.login]);
    const p = await (await browser.newContext()).newPage();
    provider.requests.length = 0;
    await p.goto(`${srv.url}/if/flow/${slug}/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.waitForSelector('#fake-captcha-checkbox', { state: 'attached' });
    await screenshot(p, 'identification-embedded-captcha');
    assert.deepEqual(await axeViolations(p), []);
    await p.fill('#uid_field', 'hana');
    await p.fill('#password', 'hana-password-1');
    await p.waitForTimeout(150); // the invisible widget issues its token
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), 'hana');
    assert.equal(provider.requests.length, 1);
    assert.deepEqual(provider.requests[0]!.fields, { secret: 'secret-turnstile', remoteip: '127.0.0.1', response: 'pass' });
    await p.context().close();
  });

  it('an interactive hCaptcha stage: the person ticks the box and the flow continues', async () => {
    const captcha = await captchaStage('e2e-hcaptcha', 'hcaptcha', true);
    const slug = await flowOf(srv, 'e2e-captcha-stage', [stages.identification, captcha, stages.password, stages.login]);
    const p = await (await browser.newContext()).newPage();
    await p.goto(`${srv.url}/if/flow/${slug}/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.fill('#uid_field', 'hana');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#fake-captcha-checkbox');
    assert.match((await p.textContent('#ks-captcha-help')) ?? '', /confirm you are human/);
    await screenshot(p, 'captcha');
    assert.deepEqual(await axeViolations(p), []);
    // a click, not page.check(): the widget's callback moves the flow on and removes the box, so check()'s
    // read-back of the checked state can find no box on a slow machine
    await p.click('#fake-captcha-checkbox');
    await p.waitForSelector('#password');
    await p.fill('#password', 'hana-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    await p.context().close();
  });

  it('reCAPTCHA v3 (no interaction): a provider failure is shown with a retry, and retrying passes', async () => {
    const captcha = await captchaStage('e2e-recaptcha', 'recaptcha', false);
    await call(srv, 'PATCH', `/stages/captcha/${captcha}/`, { score_min_threshold: 0.5 });
    const slug = await flowOf(srv, 'e2e-captcha-v3', [stages.identification, captcha, stages.password, stages.login]);
    const p = await (await browser.newContext()).newPage();
    await p.goto(`${srv.url}/if/flow/${slug}/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.fill('#uid_field', 'hana');
    provider.mode = '500';
    try {
      await p.keyboard.press('Enter');
      // the widget issued a token by itself; the provider failed: the error is shown and nothing loops
      await p.waitForSelector('#err-token', { timeout: 10000 });
      assert.match((await p.textContent('#err-token')) ?? '', /Failed to validate token/);
      await p.waitForFunction(() => document.activeElement?.id === 'ks-captcha-retry');
      const before = provider.requests.length;
      await p.waitForTimeout(300);
      assert.equal(provider.requests.length, before, 'no automatic resubmission');
      await screenshot(p, 'captcha-error');
    } finally {
      provider.mode = 'normal';
    }
    await p.click('#ks-captcha-retry');
    await p.waitForSelector('#password', { timeout: 10000 });
    await p.context().close();
  });
});
