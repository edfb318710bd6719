/**
 * How the flow page behaves around the challenges: title and background, every layout, the busy state while a
 * request is in flight, and a retry message (never a blank page) when the network fails.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { axeViolations, createUser, screenshot } from './page.js';

const LAYOUTS = [
  'stacked',
  'content_left',
  'content_right',
  'sidebar_left',
  'sidebar_right',
  'sidebar_left_frame_background',
  'sidebar_right_frame_background',
];

describe('flow page behaviour in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;

  before(async () => {
    srv = await startServer('sqlite');
    browser = await launchChromium();
    await createUser(srv, 'frank', 'frank-password-1');
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('shows the flow title and background, in each of the layouts', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 } });
    const p = await ctx.newPage();
    for (const layout of LAYOUTS) {
      const r = await call(srv, 'PATCH', '/flows/instances/default-authentication-flow/', {
        layout,
        title: `Sign in (${layout})`,
        background: 'https://example.invalid/bg.jpg',
      });
      assert.equal(r.status, 200);
      await p.goto(`${srv.url}/if/flow/default-authentication-flow/`);
      await p.waitForSelector('#uid_field');
      assert.equal(await p.textContent('h1.ks-title'), `Sign in (${layout})`);
      assert.equal(await p.title(), `Sign in (${layout}) - Keystage`, "authentik: the flow title, then the brand's");
      assert.equal(await p.evaluate(() => document.body.dataset.layout), layout);
      assert.match(await p.evaluate(() => document.body.style.getPropertyValue('--ks-background')), /example\.invalid\/bg\.jpg/);
      const box = await p.locator('.ks-card').boundingBox();
      assert.ok(box && box.width > 200, 'the card is visible');
      if (layout.startsWith('sidebar_left') || layout === 'content_left') assert.ok(box!.x < 40, `${layout}: card on the left`);
      if (layout.startsWith('sidebar_right') || layout === 'content_right')
        assert.ok(box!.x + box!.width > 1024 - 40, `${layout}: card on the right`);
      await screenshot(p, `layout-${layout}`);
    }
    await call(srv, 'PATCH', '/flows/instances/default-authentication-flow/', {
      layout: 'stacked',
      title: 'Welcome to Keystage!',
      background: '',
    });
    await ctx.close();
  });

  it("wears the brand's theme: dark, light, or the system's (automatic), axe-clean in each", async () => {
    const brand = (await call(srv, 'GET', '/core/brands/?domain=authentik-default')).body.results[0];
    const setTheme = async (base: string | undefined) => {
      const attributes = base ? { settings: { theme: { base } } } : {};
      const r = await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { attributes });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const look = async (scheme: 'light' | 'dark') => {
      const ctx = await browser.newContext({ viewport: { width: 1024, height: 700 }, colorScheme: scheme });
      const p = await ctx.newPage();
      await p.goto(`${srv.url}/if/flow/default-authentication-flow/`);
      await p.waitForSelector('#uid_field');
      const seen = {
        theme: await p.getAttribute('html', 'data-theme'),
        card: await p.$eval('.ks-card', (e) => getComputedStyle(e).backgroundColor),
        input: await p.$eval('#uid_field', (e) => getComputedStyle(e).backgroundColor),
        violations: await axeViolations(p),
      };
      await screenshot(p, `flow-theme-${seen.theme}-${scheme}`);
      await ctx.close();
      return seen;
    };
    const LIGHT_CARD = 'rgb(255, 255, 255)';
    const DARK_CARD = 'rgb(31, 41, 55)';
    try {
      await setTheme('dark');
      assert.deepEqual(await look('light'), { theme: 'dark', card: DARK_CARD, input: 'rgb(17, 24, 39)', violations: [] });
      assert.equal((await call(srv, 'GET', '/core/brands/current/')).body.ui_theme, 'dark');
      await setTheme('light');
      assert.deepEqual(await look('dark'), { theme: 'light', card: LIGHT_CARD, input: LIGHT_CARD, violations: [] });
      await setTheme(undefined);
      assert.deepEqual(await look('dark'), { theme: 'automatic', card: DARK_CARD, input: 'rgb(17, 24, 39)', violations: [] });
      assert.deepEqual(await look('light'), { theme: 'automatic', card: LIGHT_CARD, input: LIGHT_CARD, violations: [] });
    } finally {
      await setTheme(undefined);
    }
  });

  it('disables the button and shows progress while the request is in flight', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await p.goto(`${srv.url}/if/flow/default-authentication-flow/`);
    await p.waitForSelector('#uid_field');
    await p.route('**/api/v3/flows/executor/**', async (route) => {
      if (route.request().method() === 'POST') await gate;
      await route.continue();
    });
    await p.fill('#uid_field', 'frank');
    await p.keyboard.press('Enter');
    const button = p.locator('button[type=submit]');
    await p.waitForFunction(() => (document.querySelector('button[type=submit]') as HTMLButtonElement | null)?.disabled === true);
    assert.equal(await button.isDisabled(), true);
    assert.match((await button.textContent()) ?? '', /Please wait/);
    assert.equal(await p.getAttribute('main.ks-card', 'aria-busy'), 'true');
    release();
    await p.waitForSelector('#password');
    await ctx.close();
  });

  it('shows a retry message when the network fails, and retrying continues the flow', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${srv.url}/if/flow/default-authentication-flow/`);
    await p.waitForSelector('#uid_field');
    let failNext = true;
    await p.route('**/api/v3/flows/executor/**', async (route) => {
      if (failNext && route.request().method() === 'POST') {
        failNext = false;
        await route.abort('internetdisconnected');
        return;
      }
      await route.continue();
    });
    await p.fill('#uid_field', 'frank');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-retry');
    assert.match((await p.textContent('[role=alert]')) ?? '', /could not reach the server/);
    assert.equal(await p.evaluate(() => document.activeElement?.id), 'ks-retry');
    await screenshot(p, 'network-error');
    await p.click('#ks-retry');
    await p.waitForSelector('#password');
    await p.fill('#password', 'frank-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    await ctx.close();
  });

  it('can be used with the keyboard alone', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${srv.url}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await p.waitForSelector('#uid_field');
    await p.keyboard.type('frank');
    await p.keyboard.press('Tab');
    assert.equal(
      await p.evaluate(() => (document.activeElement as HTMLElement | null)?.getAttribute('type')),
      'submit',
      'Tab reaches the button',
    );
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.waitForFunction(() => document.activeElement?.id === 'password');
    await p.keyboard.type('frank-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await p.textContent('#ks-username'), 'frank');
    await ctx.close();
  });
});
