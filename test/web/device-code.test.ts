/**
 * The device authorization grant in Chromium: a device (openid-client) asks for a code; the person opens the
 * verification URI, logs in, types the code on the brand's device-code flow page, consents, sees that the device is
 * signed in, and the device's poll gets its tokens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as client from 'openid-client';
import type { Browser } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { axeViolations, createUser, screenshot } from './page.js';

describe('device code entry in Chromium', () => {
  let srv: TestServer;
  let browser: Browser;
  let config: client.Configuration;

  before(async () => {
    srv = await startServer('sqlite');
    const flows = await call(srv, 'GET', '/flows/instances/?page_size=100');
    const flowPk = (slug: string) => flows.body.results.find((f: { slug: string }) => f.slug === slug).pk;
    const rows = await srv.app.store.db.selectFrom('property_mappings').select(['pm_uuid', 'managed']).execute();
    const pm = (s: string) => rows.find((r) => r.managed === `goauthentik.io/providers/oauth2/scope-${s}`)!.pm_uuid;
    const p = await call(srv, 'POST', '/providers/oauth2/', {
      name: 'TV',
      client_type: 'public',
      authorization_flow: flowPk('default-provider-authorization-explicit-consent'),
      invalidation_flow: flowPk('default-provider-invalidation-flow'),
      redirect_uris: [],
      property_mappings: [pm('openid'), pm('profile')],
    });
    assert.equal(p.status, 201, JSON.stringify(p.body));
    assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Living room TV', slug: 'tv', provider: p.body.pk })).status, 201);
    const dev = await call(srv, 'POST', '/flows/instances/', {
      name: 'Device code',
      slug: 'device-code',
      title: 'Connect a device',
      designation: 'stage_configuration',
      authentication: 'require_authenticated',
    });
    assert.equal(dev.status, 201, JSON.stringify(dev.body));
    const brand = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0].brand_uuid;
    assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_device_code: dev.body.pk })).status, 200);
    await createUser(srv, 'alice', 'alice-password-1');
    config = await client.discovery(new URL(`${srv.url}/application/o/tv/`), p.body.client_id, undefined, client.None(), {
      execute: [client.allowInsecureRequests],
    });
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('log in, type the code, consent; the device gets its tokens', async () => {
    const grant = await client.initiateDeviceAuthorization(config, { scope: 'openid profile' });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const p = await ctx.newPage();
    await p.goto(grant.verification_uri);
    // not logged in: the login page first, then back to the code entry
    await p.waitForSelector('#uid_field', { timeout: 15000 });
    await p.fill('#uid_field', 'alice');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#password');
    await p.fill('#password', 'alice-password-1');
    await p.keyboard.press('Enter');
    await p.waitForSelector('ak-provider-oauth2-device-code #code', { timeout: 15000 });
    assert.match(p.url(), /\/if\/flow\/device-code\/$/);
    await screenshot(p, 'device-code');
    assert.deepEqual(await axeViolations(p), []);
    await p.fill('#code', '123');
    await p.keyboard.press('Enter');
    await p.waitForSelector('#err-code');
    assert.match((await p.textContent('#err-code')) ?? '', /Invalid code/);
    await p.fill('#code', grant.user_code);
    await p.keyboard.press('Enter');
    await p.waitForSelector('#header-text', { timeout: 15000 });
    assert.equal(await p.textContent('#header-text'), "You're about to sign into Living room TV.");
    await p.click('button[type=submit]');
    await p.waitForSelector('ak-provider-oauth2-device-code-finish', { timeout: 15000 });
    assert.match((await p.textContent('ak-provider-oauth2-device-code-finish')) ?? '', /successfully authenticated your device/);
    await screenshot(p, 'device-code-finish');
    const tokens = await client.pollDeviceAuthorizationGrant(config, grant);
    assert.equal(tokens.claims()!.preferred_username, 'alice');
    await ctx.close();
  });
});
