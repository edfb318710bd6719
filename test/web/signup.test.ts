/**
 * Signing up through the real pages in Debian's Chromium: the login page's "Need an account? Sign up." link, the
 * default enrollment flow's prompt (labels, autocomplete, focus, no horizontal scrolling at 360 px, axe-clean),
 * errors shown beside their fields (a taken username, a password the policy refuses) or above the form (passwords
 * that differ), what was typed kept across an answer with errors, then the new user logged in on the user page.
 * Screenshots of each step under test-results/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { activeElementId, axeViolations, createUser, screenshot, stageOf } from './page.js';

describe('sign-up page in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let origin: string;

  before(async () => {
    srv = await startServer('sqlite');
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    await createUser(srv, 'taken', 'taken-password-1');
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('from the login page to a new account, logged in', async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.click('text=Need an account? Sign up.');
    await p.waitForSelector('#ks-prompt-username');
    assert.match(p.url(), /\/if\/flow\/default-enrollment-flow\//);
    assert.equal(await stageOf(p), 'ak-stage-prompt');
    assert.equal(await activeElementId(p, 'ks-prompt-username'), 'ks-prompt-username', 'focus starts in the first field');
    assert.equal(await p.textContent('label[for=ks-prompt-username]'), 'Username');
    assert.equal(await p.getAttribute('#ks-prompt-username', 'autocomplete'), 'username');
    assert.equal(await p.getAttribute('#ks-prompt-email', 'type'), 'email');
    assert.equal(await p.getAttribute('#ks-prompt-password', 'type'), 'password');
    assert.equal(await p.getAttribute('#ks-prompt-password', 'autocomplete'), 'new-password');
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth <= 360), true, 'no horizontal scrolling at 360 px');
    await screenshot(p, 'signup-prompt');
    assert.deepEqual(await axeViolations(p), []);

    const fill = async (v: Record<string, string>) => {
      for (const [k, x] of Object.entries(v)) await p.fill(`#ks-prompt-${k}`, x);
    };
    // a taken username and a short password: each error beside its field
    await fill({ username: 'taken', name: 'New Person', email: 'new@example.com', password: 'short', password_repeat: 'short' });
    await p.keyboard.press('Enter');
    await p.waitForSelector('#err-username');
    assert.equal((await p.textContent('#err-username'))?.trim(), 'Username is already taken.');
    assert.equal(await p.getAttribute('#ks-prompt-username', 'aria-invalid'), 'true');
    assert.equal(await p.getAttribute('#ks-prompt-username', 'aria-describedby'), 'err-username');
    assert.equal(await p.inputValue('#ks-prompt-name'), 'New Person', 'what was typed is kept');
    assert.equal(await p.inputValue('#ks-prompt-password'), '', 'passwords are typed again');
    await fill({ username: 'newperson', password: 'short', password_repeat: 'short' });
    await p.keyboard.press('Enter');
    await p.waitForSelector('#err-password');
    assert.equal((await p.textContent('#err-password'))?.trim(), 'The password must be at least 8 characters long.');
    assert.equal(await activeElementId(p, 'ks-prompt-password'), 'ks-prompt-password', 'focus moves to the field in error');
    await screenshot(p, 'signup-password-rejected');
    assert.deepEqual(await axeViolations(p), []);
    // passwords that differ: above the form
    await fill({ password: 'long-enough-password', password_repeat: 'another-long-password' });
    await p.keyboard.press('Enter');
    await p.waitForSelector('#err-non_field_errors');
    assert.equal((await p.textContent('#err-non_field_errors'))?.trim(), "Passwords don't match.");
    await screenshot(p, 'signup-passwords-differ');

    await fill({ password: 'long-enough-password', password_repeat: 'long-enough-password' });
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), 'newperson');
    await screenshot(p, 'signup-done');
    await ctx.close();
  });
});
