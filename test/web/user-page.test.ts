/**
 * The user page (/if/user/) in Debian's Chromium: someone logged out is sent to log in and comes back; the page shows
 * the settings flow inline (a name changed there is written and shown), the password change and enrolment links,
 * the second-factor devices (one deleted), the sessions (another one ended: that browser is logged out), the
 * applications, consents (one withdrawn) and app passwords (one deleted), locking one's own account, adding a second account to the browser and switching back; readable at 360 px without horizontal scrolling, axe-clean. Screenshots under test-results/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { axeViolations, createUser, screenshot } from './page.js';
import { PLACES, geoipFiles } from '../helpers/geoip-files.js';
import { rm } from 'node:fs/promises';

const noHorizontalScroll = (p: Page) => p.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth);

describe('user page in Chromium', () => {
  let srv: TestServer;
  let browser: Chromium;
  let origin: string;
  let uma: number;
  let geo: Awaited<ReturnType<typeof geoipFiles>>;

  before(async () => {
    geo = await geoipFiles();
    // (a GeoIP database and 127.0.0.1 as a proxy: the other browser's session comes from Berlin)
    srv = await startServer('sqlite', {
      trustedProxies: '127.0.0.1',
      geoip: { cityPath: geo.city, asnPath: geo.asn, cityDefault: false, asnDefault: false },
    });
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    uma = await createUser(srv, 'uma', 'uma-password-1');
    // listed: Chat, then under "Work" Wiki (icon, publisher, in a new tab); not listed: one hidden, one with no URL to
    // open (authentik's blank://blank)
    for (const body of [
      {
        name: 'Wiki',
        slug: 'wiki',
        meta_launch_url: 'https://wiki.example.com/',
        open_in_new_tab: true,
        group: 'Work',
        meta_publisher: 'Docs team',
        meta_icon: '/static/dist/assets/icons/icon.png',
      },
      { name: 'Chat', slug: 'chat', meta_launch_url: 'https://chat.example.com/' },
      { name: 'Payroll', slug: 'payroll', meta_launch_url: 'https://payroll.example.com/', meta_hide: true },
      { name: 'Proxy only', slug: 'proxy-only', meta_launch_url: 'blank://blank' },
    ]) {
      const app = await call(srv, 'POST', '/core/applications/', body);
      assert.equal(app.status, 201, JSON.stringify(app.body));
    }
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
    await rm(geo.dir, { recursive: true, force: true });
  });

  it('logged out: to the login, and back to the page with every section', async () => {
    const ctx = await browser.newContext({ viewport: { width: 360, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/user/`);
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    assert.match(p.url(), /\/if\/flow\/default-authentication-flow\/\?next=%2Fif%2Fuser%2F/);
    await p.fill('#uid_field', 'uma');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', 'uma-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(new URL(p.url()).pathname, '/if/user/');
    assert.equal(await p.textContent('#ks-username'), 'uma');
    // the settings flow inline, pre-filled
    await p.waitForSelector('#ks-prompt-name');
    assert.equal(await p.inputValue('#ks-prompt-name'), 'uma Example');
    assert.equal(await p.inputValue('#ks-prompt-email'), 'uma@example.com');
    // the password change is the password stage's configure flow, enrolment the setup stages'
    const change = await p.getAttribute('#ks-change-password', 'href');
    assert.match(change!, /^\/flows\/-\/configure\/[0-9a-f-]{36}\/\?next=%2Fif%2Fuser%2F$/);
    await p.waitForSelector('text=Set up TOTP Authenticator Setup Stage');
    await p.waitForSelector('#ks-applications >> text=Wiki');
    const apps = await p.$$eval('#ks-applications a', (links) =>
      links.map((a) => [a.textContent, a.getAttribute('href'), a.getAttribute('target')]),
    );
    assert.deepEqual(apps, [
      ['Chat', 'https://chat.example.com/', null],
      ['Wiki', 'https://wiki.example.com/', '_blank'],
    ]);
    assert.deepEqual(await p.$$eval('#ks-applications h3', (hs) => hs.map((h) => h.textContent)), ['Work']);
    assert.equal(await p.getAttribute('#ks-applications img.ks-app-icon', 'src'), '/static/dist/assets/icons/icon.png');
    await p.waitForSelector('#ks-applications >> text=Docs team');
    await p.waitForSelector('#ks-sessions .ks-current');
    // the default brand names the default unenrollment flow: the page links to it
    assert.match((await p.getAttribute('#ks-unenroll', 'href')) ?? '', /default-unenrollment-flow/);
    assert.equal(await noHorizontalScroll(p), true, 'no horizontal scrolling at 360 px');
    await screenshot(p, 'user-page');
    assert.deepEqual(await axeViolations(p), []);

    // the password change link leads to the change flow's prompt
    await p.click('#ks-change-password');
    await p.waitForSelector('#ks-prompt-password_repeat', { timeout: 15000 });
    assert.match(p.url(), /\/if\/flow\/default-password-change\//);
    await screenshot(p, 'user-page-password-change');
    await ctx.close();
  });

  /** a context logged in (as uma unless told) on the user page */
  async function onPage(username = 'uma', password = 'uma-password-1'): Promise<{ p: Page; close: () => Promise<void> }> {
    const ctx = await browser.newContext({ viewport: { width: 1024, height: 900 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.fill('#uid_field', username);
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', password);
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-prompt-name', { timeout: 15000 });
    return { p, close: () => ctx.close() };
  }

  it('changes the name through the settings flow', async () => {
    const { p, close } = await onPage();
    await p.fill('#ks-prompt-name', 'Uma Renamed');
    await p.click('ks-settings-flow button[type=submit]');
    await p.waitForSelector('#ks-settings-saved');
    await p.waitForFunction(() => document.querySelector('#ks-display-name')?.textContent === 'Uma Renamed');
    assert.equal(await p.inputValue('#ks-prompt-name'), 'Uma Renamed', 'the form shows the new value');
    assert.equal((await call(srv, 'GET', `/core/users/${uma}/`)).body.name, 'Uma Renamed');
    await screenshot(p, 'user-page-details-saved');
    // an invalid e-mail is answered beside the field
    await p.fill('#ks-prompt-email', 'not an address');
    await p.click('ks-settings-flow button[type=submit]');
    await p.waitForSelector('#err-email');
    assert.equal((await p.textContent('#err-email'))?.trim(), 'Enter a valid email address.');
    assert.equal((await call(srv, 'GET', `/core/users/${uma}/`)).body.email, 'uma@example.com');
    await close();
  });

  it('deletes a TOTP device', async () => {
    const { p, close } = await onPage();
    const device = await call(srv, 'POST', '/authenticators/admin/totp/', { name: 'Old phone', user_pk: uma, confirmed: true });
    assert.equal(device.status, 201, JSON.stringify(device.body));
    await p.reload();
    await p.waitForSelector('#ks-devices >> text=Old phone', { timeout: 15000 });
    await screenshot(p, 'user-page-devices');
    p.once('dialog', (d) => void d.accept());
    await p.click(`button[data-device="totp/${device.body.pk}"]`);
    await p.waitForSelector('text=Old phone was deleted.');
    assert.equal(await p.locator('#ks-devices').count(), 0);
    assert.equal((await call(srv, 'GET', `/authenticators/admin/totp/${device.body.pk}/`)).status, 404);
    await close();
  });

  it('renames a TOTP device', async () => {
    const { p, close } = await onPage();
    const device = await call(srv, 'POST', '/authenticators/admin/totp/', { name: 'Work phone', user_pk: uma, confirmed: true });
    assert.equal(device.status, 201, JSON.stringify(device.body));
    await p.reload();
    await p.waitForSelector('#ks-devices >> text=Work phone', { timeout: 15000 });
    p.once('dialog', (d) => void d.accept('Pixel 9'));
    await p.click(`button[data-rename="totp/${device.body.pk}"]`);
    await p.waitForSelector('text=Work phone is now Pixel 9.');
    await p.waitForSelector('#ks-devices >> text=Pixel 9');
    await screenshot(p, 'user-page-device-renamed');
    assert.equal((await call(srv, 'GET', `/authenticators/admin/totp/${device.body.pk}/`)).body.name, 'Pixel 9');
    await call(srv, 'DELETE', `/authenticators/admin/totp/${device.body.pk}/`);
    await close();
  });

  it('creates an app password: its key shown once, a taken name refused with the API message', async () => {
    const { p, close } = await onPage();
    await p.waitForSelector('#ks-token-create', { timeout: 15000 });
    await p.fill('#ks-token-create input[name="identifier"]', 'uma-calendar');
    await p.selectOption('#ks-token-create select[name="intent"]', 'app_password');
    await p.fill('#ks-token-create input[name="description"]', 'Calendar app');
    await p.click('#ks-token-create button[type="submit"]');
    await p.waitForSelector('#ks-token-key code');
    const shown = (await p.textContent('#ks-token-key code'))?.trim();
    await screenshot(p, 'user-page-token-created');
    const stored = await call(srv, 'GET', '/core/tokens/uma-calendar/');
    assert.equal(stored.status, 200);
    assert.equal(stored.body.intent, 'app_password');
    assert.equal(stored.body.description, 'Calendar app');
    assert.equal(stored.body.user, uma);
    assert.equal(shown, (await call(srv, 'GET', '/core/tokens/uma-calendar/view_key/')).body.key);
    await p.waitForSelector('#ks-tokens >> text=uma-calendar');
    // the same name again: the API's field error, shown, nothing written
    await p.fill('#ks-token-create input[name="identifier"]', 'uma-calendar');
    await p.click('#ks-token-create button[type="submit"]');
    await p.waitForSelector('text=/identifier: .*/');
    assert.equal(await p.locator('#ks-token-key').count(), 0);
    assert.equal((await call(srv, 'GET', '/core/tokens/?identifier=uma-calendar')).body.results.length, 1);
    assert.equal((await call(srv, 'DELETE', '/core/tokens/uma-calendar/')).status, 204);
    await close();
  });

  it('withdraws a consent and deletes an app password', async () => {
    const app = (await call(srv, 'GET', '/core/applications/?slug=wiki')).body.results[0];
    await srv.app.store.db
      .insertInto('user_consents')
      .values({ user: uma, application: app.pk, expires: null, expiring: 0, permissions: 'openid email' } as never)
      .execute();
    const token = await call(srv, 'POST', '/core/tokens/', { identifier: 'uma-mail-client', intent: 'app_password', user: uma });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    const { p, close } = await onPage();
    await p.waitForSelector('#ks-consents >> text=Wiki', { timeout: 15000 });
    await p.waitForSelector('#ks-tokens >> text=uma-mail-client');
    await screenshot(p, 'user-page-consents-tokens');
    await p.getByRole('button', { name: 'Withdraw the consent given to Wiki' }).click();
    await p.waitForSelector('text=You have not given any application consent.');
    assert.equal((await call(srv, 'GET', `/core/user_consent/?user=${uma}`)).body.results.length, 0);
    await p.getByRole('button', { name: 'Delete the token uma-mail-client' }).click();
    await p.waitForSelector('text=No tokens or app passwords.');
    assert.equal((await call(srv, 'GET', '/core/tokens/uma-mail-client/')).status, 404);
    await close();
  });

  it('locks its own account: the default lockdown flow, then the completion page; the account is locked', async () => {
    const lou = await createUser(srv, 'lou', 'lou-password-1');
    const flow = (await call(srv, 'GET', '/flows/instances/?slug=default-account-lockdown')).body.results[0].pk;
    const brand = (await call(srv, 'GET', '/core/brands/?domain=authentik-default')).body.results[0].brand_uuid;
    assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_lockdown: flow })).status, 200);
    try {
      const { p, close } = await onPage('lou', 'lou-password-1');
      await p.getByRole('button', { name: 'Lock my account' }).click({ timeout: 15000 });
      await p.waitForSelector('#ks-prompt-lockdown_reason', { timeout: 15000 });
      assert.equal(new URL(p.url()).pathname, '/if/flow/default-account-lockdown/');
      await p.fill('#ks-prompt-lockdown_reason', 'I clicked a phishing link');
      await screenshot(p, 'user-page-lockdown');
      await p.getByRole('button', { name: 'Continue' }).click();
      await p.waitForSelector('text=Your account has been locked', { timeout: 15000 });
      assert.equal(new URL(p.url()).pathname, '/if/flow/default-account-lockdown-complete/');
      assert.deepEqual(await axeViolations(p), []);
      const user = (await call(srv, 'GET', `/core/users/${lou}/`)).body;
      assert.equal(user.is_active, false);
      // the browser is logged out: the user page sends it to the login
      await p.goto(`${origin}/if/user/`);
      await p.waitForSelector('#uid_field', { timeout: 15000 });
      await close();
    } finally {
      await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_lockdown: null });
    }
  });

  it('ends another session: that browser is logged out, this one stays', async () => {
    const other = new Browser(srv.api, {
      headers: {
        'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0',
        'x-forwarded-for': PLACES.berlin.ip,
      },
    });
    await other.get('default-authentication-flow');
    await other.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'uma' });
    await other.solve('default-authentication-flow', { component: 'ak-stage-password', password: 'uma-password-1' });
    assert.equal((await other.me()).status, 200);

    const { p, close } = await onPage();
    const row = p.locator('#ks-sessions li', { hasText: 'Firefox 133 on Windows' });
    await row.waitFor({ timeout: 15000 });
    assert.match(
      (await row.textContent()) ?? '',
      /Berlin, DE · 198\.51\.100\.10 · last used/,
      'where the session is, from the GeoIP database',
    );
    await screenshot(p, 'user-page-sessions');
    await row.getByRole('button', { name: /End the session/ }).click();
    await p.waitForSelector('text=The session was ended.');
    assert.equal(await p.locator('#ks-sessions li', { hasText: 'Firefox 133 on Windows' }).count(), 0);
    assert.equal((await other.me()).status, 403, 'the other browser is logged out');
    await p.reload();
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), 'uma', 'this browser stays logged in');
    await close();
  });

  it('adds another account to this browser and switches back (the brand’s user switch flow)', async () => {
    await createUser(srv, 'vic', 'vic-password-1');
    await createUser(srv, 'wen', 'wen-password-1');
    const login = await call(srv, 'POST', '/stages/user_login/', { name: 'e2e-switch-login' });
    const flow = await call(srv, 'POST', '/flows/instances/', {
      name: 'Switch',
      slug: 'e2e-switch',
      title: 'Switch',
      designation: 'authentication',
    });
    assert.equal((await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: login.body.pk, order: 10 })).status, 201);
    const brand = (await call(srv, 'GET', '/core/brands/?domain=authentik-default')).body.results[0].brand_uuid;
    assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_user_switch: flow.body.pk })).status, 200);
    try {
      const { p, close } = await onPage('vic', 'vic-password-1');
      await p.getByRole('button', { name: 'Add another account' }).click({ timeout: 15000 });
      await p.waitForSelector('#uid_field', { timeout: 15000 });
      await p.fill('#uid_field', 'wen');
      await p.keyboard.press('Enter');
      await p.waitForSelector('#password');
      await p.fill('#password', 'wen-password-1');
      await p.keyboard.press('Enter');
      await p.waitForSelector('#ks-prompt-name', { timeout: 15000 });
      assert.equal(await p.textContent('#ks-username'), 'wen');
      assert.equal(new URL(p.url()).pathname, '/if/user/');
      await p.waitForSelector('#ks-accounts >> text=Switch to vic');
      await screenshot(p, 'user-page-accounts');
      assert.deepEqual(await axeViolations(p), []);
      await p.getByRole('button', { name: 'Switch to vic' }).click();
      await p.waitForSelector('#ks-accounts >> text=Switch to wen', { timeout: 15000 });
      assert.equal(await p.textContent('#ks-username'), 'vic');
      await close();
    } finally {
      await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_user_switch: null });
    }
  });
});
