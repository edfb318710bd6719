/**
 * The admin interface (/if/admin/) in Debian's Chromium, and who may open it: someone logged out logs in and comes
 * back to the place the link named; a user without `access_admin_interface` goes to the user interface; a holder of it gets the page, whose lists
 * show the API's 403 for what their roles do not grant. A superuser, through the page only: the overview's counts, a
 * flow created, edited (slug moved), refused with the API's field error for a taken slug and deleted; a stage made
 * through the stage types; a stage binding made under the flow (the binding's target filled in); an event read; the
 * system settings changed; operations beside objects and lists (a password set, an impersonation, a member added, a policy tested, a
 * flow exported, a key pair generated, a blueprint and a SAML provider's metadata uploaded). Every change is checked through the API. Axe-clean; screenshots under test-results/.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser as Chromium, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../helpers/browser-chromium.js';
import { ADMIN_PASSWORD, call, startServer, type TestServer } from '../helpers/server.js';
import { loggedIn } from '../helpers/flows.js';
import { until } from '../helpers/wait.js';
import { axeViolations, createUser, logInOnPage, screenshot } from './page.js';

describe('admin interface', () => {
  let srv: TestServer;
  let browser: Chromium;
  let origin: string;

  before(async () => {
    srv = await startServer('sqlite');
    origin = srv.url.replace('127.0.0.1', 'localhost');
    browser = await launchChromium();
    await createUser(srv, 'uma', 'uma-password-1');
    await createUser(srv, 'ada', 'ada-password-1');
    const role = await call(srv, 'POST', '/rbac/roles/', { name: 'admin interface only' });
    assert.equal(role.status, 201, JSON.stringify(role.body));
    const ada = (await call(srv, 'GET', '/core/users/?username=ada')).body.results[0].pk;
    assert.equal((await call(srv, 'POST', `/rbac/roles/${role.body.pk}/add_user/`, { pk: ada })).status, 204);
    const granted = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role.body.pk}/assign/`, {
      permissions: ['authentik_rbac.access_admin_interface', 'authentik_flows.view_flow'],
    });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
  });
  after(async () => {
    await browser?.close();
    await srv?.close();
  });

  const page = (b: { jar: { headers(h?: HeadersInit): Headers } }) =>
    fetch(`${srv.url}/if/admin/`, { headers: b.jar.headers(), redirect: 'manual' });

  it('without the permission: to the user interface; with it, or logged out (the page sends to the login): the page', async () => {
    const out = await fetch(`${srv.url}/if/admin/`, { redirect: 'manual' });
    assert.equal(out.status, 200);
    const uma = await page(await loggedIn(srv, 'uma', 'uma-password-1'));
    assert.equal(uma.status, 302);
    assert.equal(uma.headers.get('location'), '/if/user/');
    const ada = await loggedIn(srv, 'ada', 'ada-password-1');
    const res = await page(ada);
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<ks-admin brand-title="Keystage"/);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self' 'nonce-/);
    const me = await ada.fetch('/core/users/me/');
    assert.deepEqual(me.body.user.system_permissions, ['access_admin_interface']);
  });

  async function login(ctx: BrowserContext, username: string, password: string): Promise<Page> {
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/admin/#/flows/instances/`);
    await logInOnPage(p, username, password);
    await p.waitForSelector('#ks-admin-username', { timeout: 15000 });
    return p;
  }

  it("a holder of access_admin_interface sees what their roles grant, and the API's refusal for the rest", async () => {
    const ctx = await browser.newContext();
    const p = await login(ctx, 'ada', 'ada-password-1');
    // back where the login began: the flows, which the role may view
    assert.equal(new URL(p.url()).hash, '#/flows/instances/');
    await p.waitForSelector('.ks-admin-table >> text=default-authentication-flow');
    await p.click('nav.ks-admin-nav >> text="Users"');
    const alert = await p.waitForSelector('[role=alert]');
    assert.match((await alert.textContent()) ?? '', /permission/i);
    // the user interface links here for them
    await p.goto(`${origin}/if/user/`);
    await p.click('#ks-admin-link');
    await p.waitForSelector('#ks-admin-username');
    assert.equal(new URL(p.url()).pathname, '/if/admin/');
    await ctx.close();
  });

  it('someone else logging in through the admin link lands on the user interface, which has no admin link', async () => {
    const ctx = await browser.newContext();
    const p = await ctx.newPage();
    await p.goto(`${origin}/if/admin/`);
    await logInOnPage(p, 'uma', 'uma-password-1');
    await p.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(new URL(p.url()).pathname, '/if/user/');
    assert.equal(await p.$('#ks-admin-link'), null);
    await ctx.close();
  });

  it('a superuser manages flows, stages, bindings and settings through the page', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await login(ctx, 'akadmin', ADMIN_PASSWORD);
    p.on('dialog', (d) => void d.accept());

    // the overview's counts are the API's
    await p.click('nav.ks-admin-nav >> text="Overview"');
    const users = (await call(srv, 'GET', '/core/users/?page_size=1')).body.pagination.count;
    await p.waitForSelector(`[data-count="/core/users/"] >> text="${users}"`);
    await p.waitForSelector('#ks-version >> text=/^\\d{4}\\.\\d+/');
    assert.deepEqual(await axeViolations(p), []);
    await screenshot(p, 'admin-overview');

    // a new flow
    await p.click('nav.ks-admin-nav >> text="Flows"');
    await p.waitForSelector('.ks-admin-table >> text=default-authentication-flow');
    await p.click('a.ks-primary >> text=Create');
    await p.fill('#ks-field-name', 'Made in the admin page');
    await p.fill('#ks-field-slug', 'admin-made');
    await p.fill('#ks-field-title', 'Welcome');
    await p.selectOption('#ks-field-designation', 'authentication');
    assert.equal(await p.inputValue('#ks-field-layout'), 'stacked', "the schema's default filled in");
    assert.deepEqual(await axeViolations(p), []);
    await p.click('button[type=submit]');
    await p.waitForSelector('[role=status] >> text=Created.');
    assert.equal(new URL(p.url()).hash, '#/flows/instances/admin-made/');
    const made = await call(srv, 'GET', '/flows/instances/admin-made/');
    assert.equal(made.status, 200);
    assert.equal(made.body.title, 'Welcome');
    assert.equal(made.body.designation, 'authentication');

    // edited: only what changed is sent; a new slug moves the page
    await p.fill('#ks-field-title', 'Welcome back');
    await p.fill('#ks-field-slug', 'admin-made-2');
    await p.click('button[type=submit]');
    await p.waitForFunction(() => location.hash === '#/flows/instances/admin-made-2/');
    await p.waitForSelector('#ks-field-title');
    assert.equal(await p.inputValue('#ks-field-title'), 'Welcome back');
    const edited = await call(srv, 'GET', '/flows/instances/admin-made-2/');
    assert.equal(edited.body.title, 'Welcome back');
    assert.equal(edited.body.name, 'Made in the admin page');

    // a taken slug: the API's field error under the field, nothing written
    const before = (await call(srv, 'GET', '/flows/instances/?page_size=1')).body.pagination.count;
    await p.goto(`${origin}/if/admin/#/flows/instances/?new`);
    await p.fill('#ks-field-name', 'Twice');
    await p.fill('#ks-field-slug', 'admin-made-2');
    await p.fill('#ks-field-title', 'Twice');
    await p.selectOption('#ks-field-designation', 'authentication');
    await p.click('button[type=submit]');
    const error = await p.waitForSelector('#ks-field-slug-error');
    assert.match((await error.textContent()) ?? '', /already exists/);
    assert.equal(await p.getAttribute('#ks-field-slug', 'aria-invalid'), 'true');
    assert.equal((await call(srv, 'GET', '/flows/instances/?page_size=1')).body.pagination.count, before);
    await screenshot(p, 'admin-field-error');

    // a stage, through the stage types
    await p.click('nav.ks-admin-nav >> text="Stages"');
    await p.click('button.ks-primary >> text=Create');
    await p.click('.ks-admin-types >> text=Identification Stage');
    await p.waitForFunction(() => location.hash === '#/stages/identification/?new');
    await p.fill('#ks-field-name', 'admin-identification');
    await p.selectOption('#ks-field-user_fields', ['username', 'email']);
    await p.click('button[type=submit]');
    await p.waitForSelector('[role=status] >> text=Created.');
    const stage = (await call(srv, 'GET', '/stages/identification/?name=admin-identification')).body.results[0];
    assert.deepEqual([...stage.user_fields].sort(), ['email', 'username']);
    // the stage list leads to the stage's own page
    await p.click('nav.ks-admin-nav >> text="Stages"');
    await p.fill('input[type=search]', 'admin-identification');
    await p.keyboard.press('Enter');
    await p.click('.ks-admin-table a >> text=admin-identification');
    await p.waitForFunction((pk) => location.hash === `#/stages/identification/${pk}/`, stage.pk);

    // a stage binding under the flow: its target is the flow
    await p.goto(`${origin}/if/admin/#/flows/instances/admin-made-2/`);
    await p.waitForSelector('section[aria-label="Stage bindings"] >> text=Nothing here yet.');
    await p.click('section[aria-label="Stage bindings"] >> text=Create');
    // both chosen from lists: the flow (filled in, shown by its slug) and the stage (by its name)
    assert.equal(await p.inputValue('#ks-field-target'), edited.body.pk);
    assert.equal(await p.textContent('#ks-field-target option:checked'), 'admin-made-2');
    await p.selectOption('#ks-field-stage', { label: 'admin-identification' });
    await p.fill('#ks-field-order', '10');
    await p.click('button[type=submit]');
    await p.waitForSelector('[role=status] >> text=Created.');
    const bindings = (await call(srv, 'GET', `/flows/bindings/?target=${edited.body.pk}`)).body.results;
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0].stage, stage.pk);
    assert.equal(bindings[0].order, 10);

    // deleted after the confirmation
    await p.goto(`${origin}/if/admin/#/flows/instances/admin-made-2/`);
    await p.click('button.ks-danger >> text=Delete');
    await p.waitForSelector('[role=status] >> text=Deleted.');
    assert.equal(new URL(p.url()).hash, '#/flows/instances/');
    assert.equal((await call(srv, 'GET', '/flows/instances/admin-made-2/')).status, 404);

    // an event: read-only
    await p.click('nav.ks-admin-nav >> text="Logs"');
    await p.click('.ks-admin-table tbody tr:first-child a');
    await p.waitForSelector('dl.ks-admin-details >> text=Action');
    assert.equal(await p.$('form.ks-admin-form'), null);

    // the system settings: one object at its path
    await p.click('nav.ks-admin-nav >> text="Settings"');
    await p.waitForSelector('#ks-field-default_token_length');
    await p.fill('#ks-field-default_token_length', '77');
    await p.click('button[type=submit]');
    await p.waitForSelector('[role=status] >> text=Saved.');
    assert.equal((await call(srv, 'GET', '/admin/settings/')).body.default_token_length, 77);
    assert.deepEqual(await axeViolations(p), []);
    await screenshot(p, 'admin-settings');
    await ctx.close();
  });

  it('system tasks: a schedule edited and sent from its page, its task done with its logs under System Tasks', async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await login(ctx, 'akadmin', ADMIN_PASSWORD);
    const clean = (await call(srv, 'GET', '/tasks/schedules/?actor_name=authentik.core.tasks.clean_expired_models')).body.results[0];
    await p.click('nav.ks-admin-nav >> text="Schedules"');
    await p.waitForSelector('.ks-admin-table >> text=authentik.core.tasks.clean_expired_models');
    assert.deepEqual(await axeViolations(p), []);
    await p.goto(`${origin}/if/admin/#/tasks/schedules/${clean.id}/`);
    // a crontab that is none: the API's field error under the field, then a good one saved
    await p.fill('#ks-field-crontab', 'every hour');
    await p.click('button[type=submit]');
    const error = await p.waitForSelector('#ks-field-crontab-error');
    assert.match((await error.textContent()) ?? '', /^Invalid crontab expression/);
    await p.fill('#ks-field-crontab', '15 4 * * *');
    await p.click('button[type=submit]');
    await p.waitForFunction(
      async (api) => (await (await fetch(api)).json()).crontab === '15 4 * * *',
      `/api/v3/tasks/schedules/${clean.id}/`,
    );
    const saved = (await call(srv, 'GET', `/tasks/schedules/${clean.id}/`)).body;
    assert.equal(new Date(saved.next_run).getUTCHours(), 4);
    assert.equal(new Date(saved.next_run).getUTCMinutes(), 15);
    // sent: the task runs at once and System Tasks lists it done, with its logs on its page
    await p.click('details[data-action="send"] > summary');
    await p.click('details[data-action="send"] button[type=submit]');
    const answer = await p.waitForSelector('details[data-action="send"] .ks-admin-answer');
    assert.equal((await answer.textContent())?.trim(), 'Done.');
    let task: { message_id: string; state: string } | undefined;
    for (let i = 0; i < 200 && task?.state !== 'done'; i++) {
      task = (await call(srv, 'GET', '/tasks/tasks/?actor_name=authentik.core.tasks.clean_expired_models')).body.results[0];
      if (task?.state !== 'done') await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(task?.state, 'done');
    await p.click('nav.ks-admin-nav >> text="System Tasks"');
    await p.waitForSelector(`.ks-admin-table >> text=${task!.message_id}`);
    await p.goto(`${origin}/if/admin/#/tasks/tasks/${task!.message_id}/`);
    await p.waitForSelector('text=Expired events');
    assert.deepEqual(await axeViolations(p), []);
    await screenshot(p, 'admin-task');
    await ctx.close();
  });

  it("operations beside objects and lists: a user's password and impersonation, a group's member, a policy's test, a flow's export, a key pair", async () => {
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await login(ctx, 'akadmin', ADMIN_PASSWORD);
    const run = async (action: string, fill: () => Promise<void>) => {
      await p.click(`details[data-action="${action}"] > summary`);
      await fill();
      await p.click(`details[data-action="${action}"] button[type=submit]`);
      return p.waitForSelector(`details[data-action="${action}"] .ks-admin-answer`);
    };
    const uma = (await call(srv, 'GET', '/core/users/?username=uma')).body.results[0].pk;

    // a new password, which then logs in
    await p.goto(`${origin}/if/admin/#/core/users/${uma}/`);
    let answer = await run('set_password', () => p.fill('#ks-action-set_password-password', 'uma-password-2'));
    assert.equal((await answer.textContent())?.trim(), 'Done.');
    await loggedIn(srv, 'uma', 'uma-password-2');
    // an impersonation (its reason asked for) takes the browser to the user interface as that user
    const other = await browser.newContext();
    const q = await login(other, 'akadmin', ADMIN_PASSWORD);
    await q.goto(`${origin}/if/admin/#/core/users/${uma}/`);
    await q.click('details[data-action="impersonate"] > summary');
    await q.fill('#ks-action-impersonate-reason', 'checking what uma sees');
    await q.click('details[data-action="impersonate"] button[type=submit]');
    await q.waitForSelector('#ks-username', { timeout: 15000 });
    assert.equal(await q.textContent('#ks-username'), 'uma');
    assert.equal(new URL(q.url()).pathname, '/if/user/');
    await other.close();

    // a member added to a group, chosen by username
    const group = await call(srv, 'POST', '/core/groups/', { name: 'staff' });
    assert.equal(group.status, 201);
    await p.goto(`${origin}/if/admin/#/core/groups/${group.body.pk}/`);
    await p.waitForSelector('details[data-action="add_user"]');
    answer = await run('add_user', async () => {
      await p.waitForSelector('#ks-action-add_user-pk option:text("uma")', { state: 'attached' });
      await p.selectOption('#ks-action-add_user-pk', { label: 'uma' });
    });
    assert.equal((await answer.textContent())?.trim(), 'Done.');
    const members = (await call(srv, 'GET', `/core/groups/${group.body.pk}/?include_users=true`)).body.users;
    assert.deepEqual(members, [uma]);

    // an expression policy tested for a user from its own page (the family's `/policies/all/{pk}/test/`)
    const policy = await call(srv, 'POST', '/policies/expression/', {
      name: 'only-uma',
      expression: 'return request.user.username == "uma"',
    });
    assert.equal(policy.status, 201, JSON.stringify(policy.body));
    await p.goto(`${origin}/if/admin/#/policies/expression/${policy.body.pk}/`);
    await p.waitForSelector('details[data-action="test"]');
    answer = await run('test', async () => {
      await p.waitForSelector('#ks-action-test-user option:text("uma")', { state: 'attached' });
      await p.selectOption('#ks-action-test-user', { label: 'uma' });
    });
    assert.match((await answer.textContent()) ?? '', /"passing": true/);

    // a flow exported as its blueprint (YAML, shown as text)
    await p.goto(`${origin}/if/admin/#/flows/instances/default-authentication-flow/`);
    await run('export', async () => {});
    const yaml = (await p.textContent('details[data-action="export"] .ks-admin-answer pre')) ?? '';
    assert.match(yaml, /^version: 1\n/);
    assert.match(yaml, /slug: default-authentication-flow/);

    // a key pair generated from the certificates' list; a refusal shows the API's field error
    await p.click('nav.ks-admin-nav >> text="Certificates"');
    await p.waitForSelector('details[data-action="generate"]');
    await p.click('details[data-action="generate"] > summary');
    await p.fill('#ks-action-generate-validity_days', '30');
    await p.click('details[data-action="generate"] button[type=submit]');
    const missing = await p.waitForSelector('#ks-action-generate-common_name-error');
    assert.equal(await missing.textContent(), 'This field is required.');
    await p.fill('#ks-action-generate-common_name', 'admin-made.example.com');
    await p.click('details[data-action="generate"] button[type=submit]');
    answer = await p.waitForSelector('details[data-action="generate"] .ks-admin-answer');
    assert.match((await answer.textContent()) ?? '', /admin-made\.example\.com/);
    // the list shows it
    await p.waitForSelector('.ks-admin-table >> text=admin-made.example.com');
    const kp = (await call(srv, 'GET', '/crypto/certificatekeypairs/?name=admin-made.example.com')).body.results;
    assert.equal(kp.length, 1);

    // file uploads: a blueprint beside the blueprints, a SAML provider from metadata beside the providers (a type's)
    await p.click('nav.ks-admin-nav >> text="Blueprints"');
    await p.click('details[data-action="import"] > summary');
    await p.setInputFiles('#ks-action-import-file', {
      name: 'flow.yaml',
      mimeType: 'application/x-yaml',
      buffer: Buffer.from(
        'version: 1\nmetadata:\n  name: admin-imported\nentries:\n  - model: authentik_flows.flow\n    identifiers:\n' +
          '      slug: imported-in-admin\n    attrs:\n      name: Imported in the admin page\n      title: Imported\n' +
          '      designation: authentication\n',
      ),
    });
    await p.click('details[data-action="import"] button[type=submit]');
    answer = await p.waitForSelector('details[data-action="import"] .ks-admin-answer');
    assert.match((await answer.textContent()) ?? '', /"success": true/);
    assert.equal((await call(srv, 'GET', '/flows/instances/imported-in-admin/')).body.name, 'Imported in the admin page');
    await p.click('nav.ks-admin-nav >> text="Providers"');
    await p.click('details[data-action="import_metadata"] > summary');
    await p.fill('#ks-action-import_metadata-name', 'from-metadata');
    await p.waitForSelector(
      '#ks-action-import_metadata-authorization_flow option:text("default-provider-authorization-implicit-consent")',
      {
        state: 'attached',
      },
    );
    await p.selectOption('#ks-action-import_metadata-authorization_flow', { label: 'default-provider-authorization-implicit-consent' });
    await p.selectOption('#ks-action-import_metadata-invalidation_flow', { label: 'default-provider-invalidation-flow' });
    await p.setInputFiles('#ks-action-import_metadata-file', {
      name: 'sp.xml',
      mimeType: 'application/xml',
      buffer: Buffer.from(
        '<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://wiki.example/saml">' +
          '<md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">' +
          '<md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://wiki.example/acs" index="1"/>' +
          '</md:SPSSODescriptor></md:EntityDescriptor>',
      ),
    });
    await p.click('details[data-action="import_metadata"] button[type=submit]');
    answer = await p.waitForSelector('details[data-action="import_metadata"] .ks-admin-answer');
    assert.match((await answer.textContent()) ?? '', /"name": "from-metadata"/);
    const imported = (await call(srv, 'GET', '/providers/saml/?name=from-metadata')).body.results;
    assert.equal(imported.length, 1);
    assert.equal(imported[0].acs_url, 'https://wiki.example/acs');
    assert.deepEqual(await axeViolations(p), []);
    await screenshot(p, 'admin-actions');
    await ctx.close();
  });

  it('the sidebar reaches offboarding, object attributes, lifecycle rules and Shared Signals streams: their lists and forms', async () => {
    const leaver = (await call(srv, 'GET', '/core/users/?username=uma')).body.results[0].pk;
    const scheduled = new Date(Date.now() + 86_400_000).toISOString();
    const o = await call(srv, 'POST', '/lifecycle/user_offboarding/', { user: leaver, scheduled_at: scheduled });
    assert.equal(o.status, 201, JSON.stringify(o.body));
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await login(ctx, 'akadmin', ADMIN_PASSWORD);
    await p.click('nav.ks-admin-nav >> text="User Offboarding"');
    await p.waitForSelector('.ks-admin-table tbody tr');
    assert.equal((await p.$$('.ks-admin-table tbody tr')).length, 1);
    assert.deepEqual(await axeViolations(p), []);
    await p.click('nav.ks-admin-nav >> text="Shared Signals Streams"');
    await p.waitForSelector('text=Nothing here yet.');
    await p.click('nav.ks-admin-nav >> text="Lifecycle Rules"');
    await p.waitForSelector('text=Nothing here yet.');
    // an object attribute made through its form
    await p.click('nav.ks-admin-nav >> text="Object Attributes"');
    await p.waitForSelector('text=Nothing here yet.');
    await p.goto(`${origin}/if/admin/#/core/object_attributes/?new`);
    await p.waitForSelector('#ks-field-key');
    await p.fill('#ks-field-key', 'department');
    await p.fill('#ks-field-label', 'Department');
    await p.fill('#ks-field-object_type', 'authentik_core.user');
    await p.selectOption('#ks-field-type', 'text');
    await p.click('button[type=submit]');
    await p.waitForSelector('[role=status] >> text=Created.');
    const made = (await call(srv, 'GET', '/core/object_attributes/')).body.results;
    assert.deepEqual(
      made.map((a: { label: string; key: string; object_type: string; type: string }) => [a.label, a.key, a.object_type, a.type]),
      [['Department', 'department', 'authentik_core.user', 'text']],
    );
    await ctx.close();
  });

  it('reviews: the rounds waiting for the person, one marked as reviewed with a note through the page', async () => {
    const admin = (await call(srv, 'GET', '/core/users/?username=akadmin')).body.results[0];
    const app = await call(srv, 'POST', '/core/applications/', { name: 'Payroll', slug: 'payroll' });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    const rule = await call(srv, 'POST', '/lifecycle/rules/', {
      name: 'payroll access',
      content_type: 'authentik_core.application',
      object_id: app.body.pk,
      reviewers: [admin.uuid],
    });
    assert.equal(rule.status, 201, JSON.stringify(rule.body));
    const open = await until('the round opened', async () => {
      const r = (await call(srv, 'GET', '/lifecycle/iterations/open/?user_is_reviewer=true')).body.results;
      return r.length ? r : undefined;
    });
    assert.equal(open.length, 1);
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const p = await login(ctx, 'akadmin', ADMIN_PASSWORD);
    await p.click('nav.ks-admin-nav >> text="Reviews"');
    await p.waitForSelector('.ks-admin-table >> text=payroll access');
    assert.equal((await p.$$('.ks-admin-table tbody tr')).length, 1);
    assert.deepEqual(await axeViolations(p), []);
    await screenshot(p, 'admin-reviews');
    await p.fill('.ks-review-form textarea', 'still needed by finance');
    await p.click('.ks-review-form button[type=submit]');
    await p.waitForSelector('[role=status] >> text=Reviewed: ');
    await p.waitForSelector('text=No reviews are waiting for you.');
    const [round] = (await call(srv, 'GET', `/lifecycle/iterations/latest/authentik_core.application/${app.body.pk}/`)).body;
    assert.equal(round.state, 'REVIEWED');
    assert.deepEqual(
      round.reviews.map((r: { reviewer: { username: string }; note: string }) => [r.reviewer.username, r.note]),
      [['akadmin', 'still needed by finance']],
    );
    await ctx.close();
  });
});
