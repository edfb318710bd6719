/**
 * Logging in with Plex in the real page (Chromium): the login page's Plex button asks plex.tv for a PIN, opens
 * Plex's window for the person to approve it, polls until plex.tv gives the token, and redeems it with Keystage —
 * plex.tv's browser-facing API answered here by the browser's request interception (the PIN approved on the second
 * poll), and Keystage's own calls to plex.tv going to a fake on 127.0.0.1 that knows the same token.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { flowPks, onLoginPage } from '../helpers/sources.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { sessionRow } from '../helpers/flows.js';
import { FakePlex } from '../helpers/fake-plex.js';

describe('login through a Plex source in Chromium', () => {
  let srv: TestServer;
  let plex: FakePlex;
  let browser: Browser;
  let origin: string;
  let clientId = '';

  before(async () => {
    plex = await new FakePlex().start();
    plex.accounts.set('browser-token', { id: 77, username: 'vic', email: 'vic@plex.example', title: 'Vic', servers: ['srv-home'] });
    srv = await startServer('sqlite', { plexUrl: plex.url });
    origin = srv.url.replace('127.0.0.1', 'localhost');
    const flows = await flowPks(srv);
    const source = await call(srv, 'POST', '/sources/plex/', {
      name: 'Plex',
      slug: 'plex',
      allowed_servers: ['srv-home'],
      allow_friends: false,
      plex_token: 'owner',
      authentication_flow: flows['default-source-authentication'],
      enrollment_flow: flows['default-source-enrollment'],
    });
    assert.equal(source.status, 201, JSON.stringify(source.body));
    clientId = source.body.client_id;
    await onLoginPage(srv, source.body.pk);
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await Promise.all([srv?.close(), plex?.close()]);
  });

  it('the button gets a token from plex.tv through its PIN and the person is enrolled and logged in', async () => {
    const context = await browser.newContext();
    const seen: string[] = [];
    let polls = 0;
    await context.route(
      (url) => url.hostname === 'plex.tv',
      (route) => {
        const r = route.request();
        seen.push(`${r.method()} ${new URL(r.url()).pathname} ${r.headers()['x-plex-client-identifier'] ?? ''}`);
        const cors = { 'access-control-allow-origin': '*', 'access-control-allow-headers': '*' };
        if (r.method() === 'OPTIONS') return route.fulfill({ status: 204, headers: cors });
        if (r.method() === 'POST')
          return route.fulfill({ status: 201, headers: cors, contentType: 'application/json', body: '{"id":7,"code":"abcd"}' });
        polls++;
        return route.fulfill({
          headers: cors,
          contentType: 'application/json',
          body: JSON.stringify({ id: 7, code: 'abcd', authToken: polls >= 2 ? 'browser-token' : null }),
        });
      },
    );
    const popups: string[] = [];
    await context.route(
      (url) => url.hostname === 'app.plex.tv',
      (route) => {
        popups.push(route.request().url());
        return route.fulfill({ contentType: 'text/html', body: '<p>Plex sign-in</p>' });
      },
    );
    // the window Plex's sign-in opens in (its address carries the PIN in the fragment, which no request shows)
    const windows: string[] = [];
    context.on('page', (pg) => windows.push(pg.url()));
    const p = await context.newPage();
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await (await p.waitForSelector('a.ks-source')).click();
    await p.waitForSelector('text=Interface can only be accessed by internal users.', { timeout: 20000 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nat ${p.url()}:\n${(await p.content()).slice(0, 3000)}`);
    });
    assert.equal(seen[0], `POST /api/v2/pins ${clientId}`);
    assert.ok(seen.some((s) => s.startsWith('GET /api/v2/pins/7')));
    assert.deepEqual(popups, ['https://app.plex.tv/auth']);
    const plexWindow = windows.find((w) => w.startsWith('https://app.plex.tv/'));
    assert.ok(plexWindow?.startsWith(`https://app.plex.tv/auth#?clientID=${clientId}&code=abcd`), String(windows));
    const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'vic').executeTakeFirstOrThrow();
    const cookie = (await context.cookies()).find((c) => c.name === 'authentik_session');
    assert.equal((await sessionRow(srv, cookie?.value))?.user_id, user.id);
    await context.close();
  });
});
