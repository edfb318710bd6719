/**
 * Password recovery through the real pages in Debian's Chromium: the login page's "Forgot username or password?"
 * link, the recovery flow's identification, "Check your inbox" (axe-clean, no horizontal scrolling at 360 px), the
 * link from the e-mail opened in another browser context, the confirmation, a password the policy refuses with its
 * message beside the field, then the new password set and the person logged in. Screenshots under test-results/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import type { TestServer } from '../helpers/server.js';
import type { SmtpSink } from '../helpers/fake-providers.js';
import { emailServer, linkIn, mailTo } from '../stages/email/helpers.js';
import { axeViolations, createUser, screenshot, stageOf } from './page.js';

describe('password recovery pages in Chromium', () => {
  let srv: TestServer;
  let smtp: SmtpSink;
  let browser: Browser;
  let origin: string;

  before(async () => {
    ({ srv, smtp } = await emailServer('sqlite'));
    origin = srv.url.replace('127.0.0.1', 'localhost');
    // links in e-mails point at where this test's browser reaches the server (the port is known only now)
    srv.app.services.config.externalUrl = new URL(origin);
    browser = await launchChromium();
    await createUser(srv, 'rita', 'rita-old-password');
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    await smtp?.close();
  });

  it('from "Forgot username or password?" to a new password, logged in', async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/flow/default-authentication-flow/`);
    await p.waitForSelector('#uid_field');
    await p.click('text=Forgot username or password?');
    await p.waitForURL(/\/if\/flow\/default-recovery-flow\//);
    await p.waitForSelector('#uid_field');
    await p.fill('#uid_field', 'rita@example.com');
    await p.keyboard.press('Enter');
    await p.waitForSelector('text=Check your inbox');
    assert.equal(await stageOf(p), 'ak-stage-email');
    assert.equal(await p.evaluate(() => document.documentElement.scrollWidth <= 360), true, 'no horizontal scrolling at 360 px');
    await screenshot(p, 'recovery-check-inbox');
    assert.deepEqual(await axeViolations(p), []);
    await p.click('text=Send Email again.');
    await p.waitForSelector('text=Email Successfully sent.');
    await ctx.close();

    // the link, in another browser (as from a mail client)
    const { url } = linkIn(await mailTo(smtp, 'rita@example.com'));
    assert.equal(url.origin, origin);
    const other = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const q = await other.newPage();
    await q.goto(url.toString());
    await q.waitForSelector('text=Continue to confirm this email address.');
    await screenshot(q, 'recovery-confirm');
    assert.deepEqual(await axeViolations(q), []);
    await q.click('button[type=submit]');
    await q.waitForSelector('#ks-prompt-password');
    await q.fill('#ks-prompt-password', 'short');
    await q.fill('#ks-prompt-password_repeat', 'short');
    await q.keyboard.press('Enter');
    await q.waitForSelector('#err-password');
    assert.equal((await q.textContent('#err-password'))?.trim(), 'The password must be at least 8 characters long.');
    await screenshot(q, 'recovery-password-rejected');
    assert.deepEqual(await axeViolations(q), []);
    await q.fill('#ks-prompt-password', 'rita-new-password');
    await q.fill('#ks-prompt-password_repeat', 'rita-new-password');
    await q.keyboard.press('Enter');
    await q.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await q.textContent('#ks-username'), 'rita');
    await screenshot(q, 'recovery-done');
    await other.close();
  });
});
