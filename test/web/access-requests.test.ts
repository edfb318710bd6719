/**
 * Access requests on the user page in Debian's Chromium: a person finds an application they may request, asks for it
 * through the request flow (a prompt for the reason), and sees the request pending; a reviewer opens authentik's fulfil
 * link, finds the request marked in "To review" with its reason, approves it — the person can now use the
 * application — and ends the access again. axe-clean; screenshots under test-results/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { createStage, flowOf } from '../helpers/flows.js';
import { axeViolations, createUser, logInOnPage, screenshot } from './page.js';

describe('access requests on the user page in Chromium', () => {
  let srv: TestServer;
  let browser: Chromium;
  let origin: string;
  const ids: Record<string, number> = {};
  let app: { pk: string; slug: string };

  const access = async () =>
    (await call(srv, 'GET', `/core/applications/wiki/check_access/?for_user=${ids.alice}`)).body.passing as boolean;
  const userPage = async (username: string, path = '/if/user/'): Promise<Page> => {
    const ctx = await browser.newContext({ viewport: { width: 390, height: 900 } });
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/user/`);
    await logInOnPage(p, username, `${username}-password-1`);
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    if (path !== '/if/user/') await p.goto(`${origin}${path}`);
    return p;
  };

  before(async () => {
    srv = await startServer('sqlite');
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    for (const u of ['alice', 'rita', 'bob']) ids[u] = await createUser(srv, u, `${u}-password-1`);
    const a = await call(srv, 'POST', '/core/applications/', { name: 'Wiki', slug: 'wiki' });
    assert.equal(a.status, 201, JSON.stringify(a.body));
    app = a.body;
    assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: app.pk, user: ids.bob, order: 0 })).status, 201);
    const reason = await call(srv, 'POST', '/stages/prompt/prompts/', {
      name: 'reason',
      field_key: 'reason',
      label: 'Why do you need it?',
      type: 'text',
      required: true,
    });
    assert.equal(reason.status, 201);
    const prompt = await createStage(srv, '/stages/prompt/stages/', { name: 'request-reason', fields: [reason.body.pk] });
    await flowOf(srv, 'access-request', [prompt], { designation: 'stage_configuration', authentication: 'require_authenticated' });
    const flow = (await call(srv, 'GET', '/flows/instances/?slug=access-request')).body.results[0].pk;
    const brand = (await call(srv, 'GET', '/core/brands/?domain=authentik-default')).body.results[0].brand_uuid;
    assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_request: flow })).status, 200);
    const rule = await call(srv, 'POST', '/requests/rules/', { name: 'wiki' });
    assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: rule.body.pbm_uuid, user: ids.rita, order: 0 })).status, 201);
    const binding = await call(srv, 'POST', '/requests/rule-bindings/', {
      rule: rule.body.uuid,
      target: app.pk,
      expiry_granted_max: 'hours=8',
    });
    assert.equal(binding.status, 201, JSON.stringify(binding.body));
    assert.equal(
      (await call(srv, 'POST', '/policies/bindings/', { target: binding.body.pbm_uuid, user: ids.alice, order: 0 })).status,
      201,
    );
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  it('request, review by the fulfil link, approve, end the access', async () => {
    assert.equal(await access(), false);
    const alice = await userPage('alice');
    await alice.waitForSelector('#ks-requestable >> text=Wiki');
    await alice.click('button[aria-label="Request access to Wiki"]');
    await alice.waitForSelector('#ks-prompt-reason', { timeout: 15000 });
    assert.equal(new URL(alice.url()).pathname, '/if/flow/access-request/');
    await alice.fill('#ks-prompt-reason', 'on call this week');
    await alice.keyboard.press('Enter');
    await alice.waitForURL((u) => !u.pathname.startsWith('/if/flow/'), { timeout: 15000 });
    const row = await srv.app.store.db
      .selectFrom('grant_requests')
      .selectAll()
      .where('created_by', '=', ids.alice!)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, 'created');
    assert.deepEqual(JSON.parse(row.requester_data), { reason: 'on call this week' });
    await alice.goto(`${origin}/if/user/`);
    await alice.waitForSelector('#ks-my-requests >> text=Pending');
    await screenshot(alice, 'access-request-pending');

    // the reviewer follows the link the created event carries
    const event = (await call(srv, 'GET', '/events/events/?action=access_request_created')).body.results[0];
    const link = new URL(String(event.context.hyperlink), origin);
    const rita = await userPage('rita', link.pathname + link.hash);
    const item = await rita.waitForSelector(`#ks-review-${row.uuid}`, { timeout: 15000 });
    assert.equal(await item.getAttribute('class'), 'ks-current');
    assert.match((await item.textContent()) ?? '', /alice Example asks for Wiki[\s\S]*reason: on call this week/);
    assert.deepEqual(await axeViolations(rita), []);
    await screenshot(rita, 'access-request-review');
    await rita.click('button[aria-label="Approve the request for Wiki"]');
    await rita.waitForSelector('text=You approved the request for Wiki.');
    assert.equal(await access(), true);
    await rita.waitForSelector('#ks-granted >> text=Wiki');
    await rita.click('button[aria-label="End the access to Wiki"]');
    await rita.waitForSelector('text=The access to Wiki was ended.');
    assert.equal(await access(), false);
    const done = await srv.app.store.db
      .selectFrom('grant_requests')
      .select(['status', 'revoked_by'])
      .where('uuid', '=', row.uuid)
      .executeTakeFirstOrThrow();
    assert.deepEqual(done, { status: 'revoked', revoked_by: ids.rita });
    await alice.reload();
    await alice.waitForSelector('#ks-my-requests >> text=Revoked');
  });
});
