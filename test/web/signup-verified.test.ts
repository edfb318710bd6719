/**
 * Sign-up variants through the real pages in Debian's Chromium, with a local SMTP sink: sign-up with e-mail
 * verification (prompt → user write creating the account inactive → e-mail stage activating it → login; the link from
 * the e-mail opened in another browser context) and invitation-only sign-up (no invitation: refused; with `?itoken=`:
 * the invitation's fixed data reaches the account and the single-use invitation is spent). Screenshots under
 * test-results/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, type TestServer } from '../helpers/server.js';
import { createStage, flowOf, stagePk } from '../helpers/flows.js';
import type { SmtpSink } from '../helpers/fake-providers.js';
import { emailServer, linkIn, mailTo } from '../stages/email/helpers.js';
import { axeViolations, screenshot, stageOf } from './page.js';

describe('sign-up with e-mail verification and by invitation, in Chromium', () => {
  let srv: TestServer;
  let smtp: SmtpSink;
  let browser: Browser;
  let origin: string;
  let prompt: string;
  let login: string;

  before(async () => {
    ({ srv, smtp } = await emailServer('sqlite'));
    origin = srv.url.replace('127.0.0.1', 'localhost');
    // links in e-mails point at where this test's browser reaches the server (the port is known only now)
    srv.app.services.config.externalUrl = new URL(origin);
    browser = await launchChromium();
    prompt = await stagePk(srv, '/stages/prompt/stages/', 'default-enrollment-prompt');
    login = (await call(srv, 'GET', '/stages/user_login/')).body.results[0].pk;
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    await smtp?.close();
  });

  const users = async (username: string) => (await call(srv, 'GET', `/core/users/?username=${username}`)).body.results;

  it('sign-up with e-mail verification: the account is inactive until the link is followed', async () => {
    const write = await createStage(srv, '/stages/user_write/', {
      name: 'verified-write',
      user_creation_mode: 'always_create',
      // internal users get the user page (authentik's default, external, is sent to the brand's default application)
      user_type: 'internal',
      create_users_as_inactive: true,
    });
    const email = await createStage(srv, '/stages/email/', {
      name: 'verified-email',
      use_global_settings: true,
      activate_user_on_success: true,
      template: 'email/account_confirmation.html',
      subject: 'Confirm your account',
    });
    await flowOf(srv, 'enroll-verified', [prompt, write, email, login], { designation: 'enrollment', title: 'Sign up' });

    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/flow/enroll-verified/`);
    await p.waitForSelector('#ks-prompt-username');
    for (const [k, v] of Object.entries({
      username: 'vera',
      name: 'Vera Verified',
      email: 'vera@example.com',
      password: 'vera-long-password',
      password_repeat: 'vera-long-password',
    }))
      await p.fill(`#ks-prompt-${k}`, v);
    await p.keyboard.press('Enter');
    await p.waitForSelector('text=Check your inbox');
    assert.equal(await stageOf(p), 'ak-stage-email');
    await screenshot(p, 'signup-verify-check-inbox');
    assert.deepEqual(await axeViolations(p), []);
    const [created] = await users('vera');
    assert.equal(created.is_active, false, 'inactive until the address is confirmed');
    await ctx.close();

    const mail = await mailTo(smtp, 'vera@example.com');
    assert.match(mail.raw, /Confirm your account/);
    const { url } = linkIn(mail);
    assert.equal(url.origin, origin);
    const other = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const q = await other.newPage();
    await q.goto(url.toString());
    await q.waitForSelector('text=Continue to confirm this email address.');
    await screenshot(q, 'signup-verify-confirm');
    await q.click('button[type=submit]');
    await q.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await q.textContent('#ks-username'), 'vera');
    await screenshot(q, 'signup-verify-done');
    assert.equal((await users('vera'))[0].is_active, true, 'activated by the link');
    // the link works once
    const again = await other.newPage();
    await again.goto(url.toString());
    await again.waitForSelector('[data-stage]');
    // a used token restores nothing: the flow starts over at its first stage
    assert.equal(await stageOf(again), 'ak-stage-prompt');
    assert.equal(await again.locator('text=Continue to confirm this email address.').count(), 0);
    await other.close();
  });

  it('invitation-only sign-up: refused without one; with one, its fixed data on the account and the link spent', async () => {
    const invitationStage = await createStage(srv, '/stages/invitation/stages/', {
      name: 'invite-only',
      continue_flow_without_invitation: false,
    });
    const write = await createStage(srv, '/stages/user_write/', {
      name: 'invite-write',
      user_creation_mode: 'always_create',
      user_type: 'internal',
    });
    await flowOf(srv, 'enroll-invite', [invitationStage, prompt, write, login], { designation: 'enrollment', title: 'Join' });
    const flow = (await call(srv, 'GET', '/flows/instances/enroll-invite/')).body.pk;
    const inv = await call(srv, 'POST', '/stages/invitation/invitations/', {
      name: 'for-ivan',
      single_use: true,
      flow,
      fixed_data: { 'attributes.department': 'research' },
    });
    assert.equal(inv.status, 201, JSON.stringify(inv.body));

    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/flow/enroll-invite/`);
    await p.waitForSelector('text=Invalid invite/invite not found');
    assert.equal(await stageOf(p), 'ak-stage-access-denied');
    await screenshot(p, 'signup-invite-refused');

    await p.goto(`${origin}/if/flow/enroll-invite/?itoken=${inv.body.pk}`);
    await p.waitForSelector('#ks-prompt-username');
    for (const [k, v] of Object.entries({
      username: 'ivan',
      name: 'Ivan Invited',
      email: 'ivan@example.com',
      password: 'ivan-long-password',
      password_repeat: 'ivan-long-password',
    }))
      await p.fill(`#ks-prompt-${k}`, v);
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), 'ivan');
    await screenshot(p, 'signup-invite-done');
    const [ivan] = await users('ivan');
    assert.deepEqual(ivan.attributes, { department: 'research' });
    assert.equal((await call(srv, 'GET', `/stages/invitation/invitations/${inv.body.pk}/`)).status, 404, 'single use: spent');
    await ctx.close();
  });
});
