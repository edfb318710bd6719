/**
 * The default authentication flow end to end through the official client: identification → password → (MFA
 * skipped) → user login, by username and by e-mail, and what the login leaves in the `sessions` table.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { sessionRow, userPk } from '../helpers/flows.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`flow login: default authentication flow (${dialect})`, () => {
    let srv: TestServer;
    let admin: number;
    before(async () => {
      srv = await startServer(dialect);
      admin = await userPk(srv, 'akadmin');
    });
    after(async () => srv.close());

    /** identification with `uid`, then the admin password; returns the browser and its anonymous session key */
    async function logIn(uid: string) {
      const b = new Browser(srv.api);
      const ident = await b.get(FLOW);
      assert.equal(ident.status, 200);
      assert.equal(b.session, undefined, 'the first GET stores nothing (its plan is made again by the next request)');
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: uid });
      const anonymous = b.session;
      assert.ok(anonymous, 'progress opens a session');
      assert.deepEqual(
        pw.hops.map((h) => [h.method, h.status]),
        [
          ['POST', 302],
          ['GET', 200],
        ],
        'a passed stage answers 302 back to the executor',
      );
      assert.equal(pw.body.component, 'ak-stage-password');
      assert.equal(
        pw.body.pending_user,
        uid,
        'what was typed is shown: the default flow ships show_matched_user off (on: test/flows/show-matched-user.test.ts)',
      );
      const done = await b.solve(FLOW, { component: 'ak-stage-password', password: ADMIN_PASSWORD });
      assert.equal(done.status, 200);
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.equal(done.hops[0]!.status, 302);
      return { b, anonymous };
    }

    it('by username, matched case-insensitively ("AkAdmin"); the new session authenticates the API', async () => {
      const b0 = new Browser(srv.api);
      const ident = await b0.get(FLOW);
      assert.equal(ident.body.component, 'ak-stage-identification');
      assert.deepEqual(ident.body.user_fields, ['username', 'email']);
      assert.equal(ident.body.password_fields, false);
      assert.equal(ident.body.primary_action, 'Log in');
      assert.equal(ident.body.flow_designation, 'authentication');
      assert.equal(ident.body.flow_info.cancel_url, '/flows/-/cancel/');
      assert.equal(ident.body.response_errors, undefined);
      assert.equal(b0.session, undefined, 'a plan exactly as planning makes it is not stored');
      await b0.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' });
      const anonRow = await sessionRow(srv, b0.session);
      assert.equal(anonRow?.user_id, null, 'an anonymous session row holds the plan');
      assert.equal(anonRow?.data.plan?.bindings.length, 3);
      assert.equal((await b0.me()).status, 403, 'an anonymous session is not a login');

      const { b, anonymous } = await logIn('AkAdmin');
      const csrfBefore = b0.jar.cookies.get('authentik_csrf');
      assert.notEqual(b.session, anonymous, 'a new session id at login');
      assert.notEqual(b.jar.cookies.get('authentik_csrf'), csrfBefore);
      assert.equal(await sessionRow(srv, anonymous), undefined, 'the anonymous row is gone');
      const row = await sessionRow(srv, b.session);
      assert.equal(row?.user_id, admin);
      assert.equal(row?.data.plan, undefined, 'the finished plan is not kept');
      assert.equal(row?.data.csrf, b.jar.cookies.get('authentik_csrf'));

      const me = await b.me();
      assert.equal(me.status, 200);
      assert.equal(me.body.user.username, 'akadmin');
      assert.equal(me.body.user.pk, admin);
      // the typed (non-raw) client reads the same
      assert.equal((await b.core.coreUsersMeRetrieve()).user.isSuperuser, true);
      const last = (await srv.app.store.db.selectFrom('users').select('last_login').where('id', '=', admin).executeTakeFirstOrThrow())
        .last_login;
      assert.ok(last && Date.now() - new Date(last).getTime() < 60_000, 'last_login recorded');
    });

    it('by e-mail, matched case-insensitively', async () => {
      const { b, anonymous } = await logIn('ADMIN@Example.COM');
      assert.equal(await sessionRow(srv, anonymous), undefined);
      assert.equal((await sessionRow(srv, b.session))?.user_id, admin);
      assert.equal((await b.core.coreUsersMeRetrieve()).user.username, 'akadmin');
    });

    it('the typed client sees the same challenges', async () => {
      const b = new Browser(srv.api);
      const ident = await b.flows.flowsExecutorGet({ flowSlug: FLOW, query: '' });
      assert.equal(ident.component, 'ak-stage-identification');
      const pw = await b.flows.flowsExecutorSolve({
        flowSlug: FLOW,
        query: '',
        flowChallengeResponseRequest: { component: 'ak-stage-identification', uidField: 'akadmin' },
      });
      assert.equal(pw.component, 'ak-stage-password');
      assert.equal(pw.component === 'ak-stage-password' && pw.pendingUser, 'akadmin');
      const done = await b.flows.flowsExecutorSolve({
        flowSlug: FLOW,
        query: '',
        flowChallengeResponseRequest: { component: 'ak-stage-password', password: ADMIN_PASSWORD },
      });
      assert.equal(done.component, 'xak-flow-redirect');
      assert.equal(done.component === 'xak-flow-redirect' && done.to, '/');
    });
  });
}
