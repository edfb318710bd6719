/**
 * A logged-in user runs a stage's `configure_flow`: /flows/-/configure/{stage}/ plans that flow with them as the
 * pending user and sends the browser into it; the `execute` API action does the same for a session caller.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateTOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createStage, createUser, flowOf } from '../helpers/flows.js';

const LOGIN = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`flow configure_flow and execute (${dialect})`, () => {
    let srv: TestServer;
    let totpStage: string;
    let configureSlug: string;
    before(async () => {
      srv = await startServer(dialect);
      totpStage = await createStage(srv, '/stages/authenticator/totp/', { name: 'cfg-totp', digits: 6 });
      configureSlug = await flowOf(srv, 'configure-totp', [totpStage], { designation: 'stage_configuration' });
      const flow = (await call(srv, 'GET', `/flows/instances/${configureSlug}/`)).body.pk;
      assert.equal((await call(srv, 'PATCH', `/stages/authenticator/totp/${totpStage}/`, { configure_flow: flow })).status, 200);
      await createUser(srv, 'cora', 'cora-password-1');
    });
    after(async () => srv.close());

    async function loggedIn(username: string, password: string): Promise<Browser> {
      const b = new Browser(srv.api);
      await b.get(LOGIN);
      await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: username });
      assert.equal((await b.solve(LOGIN, { component: 'ak-stage-password', password })).body.component, 'xak-flow-redirect');
      return b;
    }
    const page = (b: Browser, path: string) => fetch(`${srv.url}${path}`, { headers: b.jar.headers(), redirect: 'manual' });

    it('/flows/-/configure/{stage}/ sends the user into the stage’s configure flow, as its pending user', async () => {
      const b = await loggedIn('cora', 'cora-password-1');
      const r = await page(b, `/flows/-/configure/${totpStage}/?next=%2Fif%2Fuser%2F`);
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), `/if/flow/${configureSlug}/?next=%2Fif%2Fuser%2F`);
      const ch = await b.get(configureSlug, 'next=%2Fif%2Fuser%2F');
      assert.equal(ch.body.component, 'ak-stage-authenticator-totp', JSON.stringify(ch.body));
      assert.equal(ch.body.pending_user, 'cora');
      const secret = new URL(ch.body.config_url).searchParams.get('secret')!;
      const done = await b.solve(
        configureSlug,
        { component: 'ak-stage-authenticator-totp', code: generateTOTP(decodeBase32IgnorePadding(secret), 30, 6) } as never,
        'next=%2Fif%2Fuser%2F',
      );
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/if/user/', final_redirect: true });
      const devices = await srv.app.store.db
        .selectFrom('totp_devices')
        .innerJoin('users', 'users.id', 'totp_devices.user_id')
        .select(['users.username', 'totp_devices.confirmed'])
        .where('users.username', '=', 'cora')
        .execute();
      assert.deepEqual(devices, [{ username: 'cora', confirmed: 1 }]);
      assert.equal((await b.me()).body.user.username, 'cora', 'still logged in');
    });

    it('anonymous visitors are sent to log in first; a stage without a configure flow, or with one that does not apply, is a 404', async () => {
      const anonymous = await fetch(`${srv.url}/flows/-/configure/${totpStage}/`, { redirect: 'manual' });
      assert.equal(anonymous.status, 302);
      assert.equal(
        anonymous.headers.get('location'),
        `/flows/-/default/authentication/?next=${encodeURIComponent(`/flows/-/configure/${totpStage}/`)}`,
      );
      const b = await loggedIn('akadmin', ADMIN_PASSWORD);
      const plain = await createStage(srv, '/stages/authenticator/static/', { name: 'cfg-static-none' });
      assert.equal((await page(b, `/flows/-/configure/${plain}/`)).status, 404);
      assert.equal((await page(b, '/flows/-/configure/00000000-0000-4000-8000-000000000000/')).status, 404);
      assert.equal((await page(b, '/flows/-/configure/not-a-uuid/')).status, 404);
      // a configure flow that does not apply to the person: not found either (authentik's ConfigureFlowInitView)
      const anonOnly = await flowOf(srv, 'cfg-anonymous-only', [plain], {
        designation: 'stage_configuration',
        authentication: 'require_unauthenticated',
      });
      const anonPk = (await call(srv, 'GET', `/flows/instances/${anonOnly}/`)).body.pk;
      const closed = await createStage(srv, '/stages/authenticator/static/', { name: 'cfg-static-closed', configure_flow: anonPk });
      assert.equal((await page(b, `/flows/-/configure/${closed}/`)).status, 404);
    });

    it('execute plans the flow for a session caller, who then continues it; a flow that does not apply is a 400', async () => {
      const b = await loggedIn('akadmin', ADMIN_PASSWORD);
      const csrf = b.jar.cookies.get('authentik_csrf')!;
      const link = await b.fetch(`/flows/instances/${configureSlug}/execute/`, { headers: { 'x-authentik-csrf': csrf } });
      assert.equal(link.status, 200);
      assert.equal(link.body.link, `${srv.url}/if/flow/${configureSlug}/`);
      const ch = await b.get(configureSlug);
      assert.equal(ch.body.component, 'ak-stage-authenticator-totp');
      assert.equal(ch.body.pending_user, 'akadmin');

      const anonOnly = await flowOf(srv, 'anonymous-only', [totpStage], {
        designation: 'authentication',
        authentication: 'require_unauthenticated',
      });
      const refused = await fetch(`${srv.api}/flows/instances/${anonOnly}/execute/`, { headers: b.jar.headers() });
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /Flow not applicable to current user/);
      // a flow its policies deny: their messages on the page (authentik's bad_request_message)
      const closed = await flowOf(srv, 'closed-on-tuesdays', [totpStage], { designation: 'stage_configuration' });
      const closedPk = (await call(srv, 'GET', `/flows/instances/${closed}/`)).body.policybindingmodel_ptr_id;
      const policy = await call(srv, 'POST', '/policies/expression/', {
        name: 'closed-today',
        expression: 'ak_message("Closed for maintenance")\nreturn False',
      });
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: closedPk, policy: policy.body.pk, order: 0 })).status, 201);
      const denied = await fetch(`${srv.api}/flows/instances/${closed}/execute/`, { headers: b.jar.headers() });
      assert.equal(denied.status, 400);
      assert.match(await denied.text(), /Flow not applicable to current user\/request: Closed for maintenance/);
      const token = await call(srv, 'GET', `/flows/instances/${configureSlug}/execute/`);
      assert.deepEqual(token.body, { link: `${srv.url}/if/flow/${configureSlug}/` }, 'a token caller gets the link');
    });
  });
}
