/**
 * Logging in with another identity provider in the real page (Chromium): the login page shows the OAuth source's
 * button; the person follows it to a fake OpenID Connect provider on 127.0.0.1, comes back, is asked for a username
 * (the provider gave none) by authentik's default source enrollment flow, and lands logged in (as an external user,
 * whom the user interface turns away, as authentik's); the next time, the same identity logs straight in.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { FakeOidc } from '../helpers/fake-oidc.js';
import { companySource } from '../helpers/sources.js';
import { sessionRow } from '../helpers/flows.js';
import { axeViolations, createUser, screenshot } from './page.js';

describe('login through an OAuth source in Chromium', () => {
  let srv: TestServer;
  let fake: FakeOidc;
  let browser: Browser;
  let origin: string;

  before(async () => {
    [srv, fake] = await Promise.all([startServer('sqlite'), new FakeOidc().start()]);
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    const source = await companySource(srv, fake, { pkce: 'S256' });
    const ident = (await call(srv, 'GET', '/stages/identification/?name=default-authentication-identification')).body.results[0];
    assert.equal((await call(srv, 'PATCH', `/stages/identification/${ident.pk}/`, { sources: [source] })).status, 200);
  });
  after(async () => {
    await browser?.close();
    await Promise.all([srv?.close(), fake?.close()]);
  });

  /** who the page's session cookie is logged in as */
  const sessionUser = async (page: Page) => {
    const cookie = (await page.context().cookies()).find((c) => c.name === 'authentik_session');
    return (await sessionRow(srv, cookie?.value))?.user_id ?? null;
  };

  it('the button leads to the provider and back; a username is asked for once; the next login goes straight in', async () => {
    fake.nextUser = { sub: 'company-77', email: 'dana@company.example', name: 'Dana Example' };
    const p = await (await browser.newContext()).newPage();
    await p.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    const button = await p.waitForSelector('a.ks-source');
    assert.equal((await button.textContent())?.trim(), 'Company IdP');
    assert.deepEqual(await axeViolations(p), []);
    await screenshot(p, 'login-with-source');
    await button.click();
    // back from the provider: authentik's default source enrollment flow asks for the username it did not give
    await p.waitForSelector('input[name=username]', { timeout: 15000 }).catch(async (e) => {
      throw new Error(`${(e as Error).message}\nat ${p.url()}:\n${(await p.content()).slice(0, 3000)}`);
    });
    assert.ok(p.url().startsWith(`${origin}/if/flow/default-source-enrollment/`), p.url());
    await p.fill('input[name=username]', 'dana');
    await p.keyboard.press('Enter');
    // the default source enrollment creates external users, whom authentik's user interface turns away
    await p.waitForSelector('text=Interface can only be accessed by internal users.', { timeout: 15000 });
    assert.equal(new URL(p.url()).pathname, '/if/user/');
    const user = await srv.app.store.db.selectFrom('users').selectAll().where('username', '=', 'dana').executeTakeFirstOrThrow();
    assert.equal(user.email, 'dana@company.example');
    assert.equal(user.type, 'external');
    assert.equal(await sessionUser(p), user.id);
    await p.context().close();

    // another browser, the same identity: logged in without a question
    const q = await (await browser.newContext()).newPage();
    await q.goto(`${origin}/if/flow/default-authentication-flow/?next=%2Fif%2Fuser%2F`);
    await (await q.waitForSelector('a.ks-source')).click();
    await q.waitForSelector('text=Interface can only be accessed by internal users.', { timeout: 15000 });
    assert.equal(await sessionUser(q), user.id);
    await q.context().close();
  });

  it('from their own page, a person connects the service and disconnects it again', async () => {
    await createUser(srv, 'ivan', 'ivan-password-1');
    fake.nextUser = { sub: 'company-ivan', email: 'ivan@company.example' };
    const p = await (await browser.newContext()).newPage();
    await p.goto(`${origin}/if/user/`);
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    await p.fill('#uid_field', 'ivan');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', 'ivan-password-1');
    await p.keyboard.press('Enter');
    const connect = await p.waitForSelector('#ks-sources li[data-source=company] a', { timeout: 15000 });
    assert.equal((await connect.textContent())?.trim(), 'Connect');
    assert.deepEqual(await axeViolations(p), []);
    await connect.click();
    // to the provider and back to this page, connected
    await p.waitForSelector('#ks-sources li[data-source=company] button', { timeout: 15000 });
    assert.equal(new URL(p.url()).pathname, '/if/user/');
    assert.match((await p.textContent('#ks-sources li[data-source=company]')) ?? '', /Connected/);
    const ivan = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'ivan').executeTakeFirstOrThrow();
    const conns = () =>
      srv.app.store.db.selectFrom('user_source_connections').select('identifier').where('user_id', '=', ivan.id).execute();
    assert.deepEqual(await conns(), [{ identifier: 'company-ivan' }]);
    await screenshot(p, 'user-page-connected-services');
    await p.click('#ks-sources li[data-source=company] button');
    await p.waitForSelector('#ks-sources li[data-source=company] a', { timeout: 15000 });
    assert.deepEqual(await conns(), []);
    await p.context().close();
  });
});
