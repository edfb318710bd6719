/**
 * Logging in with Telegram in the real page (Chromium): the login page's Telegram button leads to the source's
 * pre-authentication flow, whose Telegram stage adds Telegram's login widget script — served here by the browser's
 * request interception in place of telegram.org, behaving as the widget does in its redirect mode: the person comes
 * back to `data-auth-url` with the signed answer in the query — and the page submits it; the person is enrolled and
 * logged in.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { flowPks, onLoginPage } from '../helpers/sources.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { sessionRow } from '../helpers/flows.js';

const BOT_TOKEN = '1234:browser-test-token';

describe('login through a Telegram source in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let origin: string;

  before(async () => {
    srv = await startServer('sqlite');
    origin = srv.url.replace('127.0.0.1', 'localhost');
    const flows = await flowPks(srv);
    const source = await call(srv, 'POST', '/sources/telegram/', {
      name: 'Telegram',
      slug: 'telegram',
      bot_username: 'keystage_bot',
      bot_token: BOT_TOKEN,
      request_message_access: true,
      pre_authentication_flow: flows['default-source-pre-authentication'],
      authentication_flow: flows['default-source-authentication'],
      enrollment_flow: flows['default-source-enrollment'],
    });
    assert.equal(source.status, 201, JSON.stringify(source.body));
    await onLoginPage(srv, source.body.pk);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('the widget’s answer is submitted by the page; the person is enrolled and logged in', async () => {
    const user = { id: 5150, first_name: 'Wendy', username: 'wendy_tg', auth_date: Math.floor(Date.now() / 1000) };
    const check = Object.entries(user)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}=${v}`)
      .join('\n');
    const hash = createHmac('sha256', createHash('sha256').update(BOT_TOKEN).digest()).update(check).digest('hex');
    const context = await browser.newContext();
    const widgetAttributes: Record<string, string>[] = [];
    await context.exposeFunction('ksSawWidget', (attrs: Record<string, string>) => widgetAttributes.push(attrs));
    // Telegram's widget, as it behaves: read its own data attributes, call back with the signed answer
    await context.route(
      (url) => url.hostname === 'telegram.org' && url.pathname === '/js/telegram-widget.js',
      (route) =>
        route.fulfill({
          contentType: 'application/javascript',
          body: `(() => {
          const s = document.currentScript;
          window.ksSawWidget({ login: s.dataset.telegramLogin, authUrl: s.dataset.authUrl, access: s.dataset.requestAccess || '' });
          const back = new URL(s.dataset.authUrl);
          for (const [k, v] of Object.entries(${JSON.stringify({ ...user, hash })})) back.searchParams.set(k, String(v));
          setTimeout(() => { window.location.href = back.toString(); }, 50);
        })();`,
        }),
    );
    const p = await context.newPage();
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await (await p.waitForSelector('a.ks-source')).click();
    await p.waitForSelector('text=Interface can only be accessed by internal users.', { timeout: 15000 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nat ${p.url()}:\n${(await p.content()).slice(0, 3000)}`);
    });
    // (the widget in redirect mode: back to the flow page, which submitted the answer)
    assert.deepEqual(widgetAttributes, [
      { login: 'keystage_bot', authUrl: `${origin}/if/flow/default-source-pre-authentication/`, access: 'write' },
    ]);
    const row = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'wendy_tg').executeTakeFirstOrThrow();
    assert.equal(row.name, 'Wendy');
    const cookie = (await context.cookies()).find((c) => c.name === 'authentik_session');
    assert.equal((await sessionRow(srv, cookie?.value))?.user_id, row.id);
    await context.close();
  });
});
