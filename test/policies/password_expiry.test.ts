/**
 * The password expiry policy (/policies/password_expiry/): authentik's fields, validation and filters; evaluation
 * through /policies/all/{uuid}/test/ (which never changes a password) and bound to the default authentication
 * flow's login binding, where an expired password is made unusable and the login stage is skipped.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { bindingOf, createUser, defaultStages } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, failure } from '../rest/contract/client.js';

const FLOW = 'default-authentication-flow';
const DAY = 86_400_000;

for (const dialect of dialects()) {
  describe(`password expiry policy (${dialect})`, () => {
    let srv: TestServer;
    let api: PoliciesApi;
    before(async () => {
      srv = await startServer(dialect);
      api = new PoliciesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
    });
    after(async () => srv.close());

    const db = () => srv.app.store.db;
    const agePassword = (id: number, days: number) =>
      db()
        .updateTable('users')
        .set({ password_change_date: new Date(Date.now() - days * DAY - 60_000).toISOString() })
        .where('id', '=', id)
        .execute();
    const storedPassword = async (id: number) =>
      (await db().selectFrom('users').select(['password', 'password_change_date']).where('id', '=', id).executeTakeFirstOrThrow()).password;
    const test = async (pk: string, user: number) => {
      const r = await call(srv, 'POST', `/policies/all/${pk}/test/`, { user, context: {} });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { passing: boolean; messages: string[] };
    };

    it('REST: days is required, deny_only defaults to false, filters (official client and raw HTTP)', async () => {
      const missing = await call(srv, 'POST', '/policies/password_expiry/', { name: 'exp-missing' });
      assert.deepEqual([missing.status, missing.body], [400, { days: ['This field is required.'] }]);
      assert.deepEqual((await call(srv, 'POST', '/policies/password_expiry/', { name: 'exp-bad', days: 'soon' })).body, {
        days: ['A valid integer is required.'],
      });
      const created = await body(api.policiesPasswordExpiryCreateRaw({ passwordExpiryPolicyRequest: { name: 'exp-30', days: 30 } }));
      assertMatches('PasswordExpiryPolicy', created);
      assert.deepEqual(
        [created.days, created.deny_only, created.component, created.meta_model_name, created.verbose_name_plural],
        [30, false, 'ak-policy-password-expiry-form', 'authentik_policies_expiry.passwordexpirypolicy', 'Password Expiry Policies'],
      );
      await body(api.policiesPasswordExpiryCreateRaw({ passwordExpiryPolicyRequest: { name: 'exp-90', days: 90, denyOnly: true } }));
      assert.deepEqual(
        (await body(api.policiesPasswordExpiryListRaw({ denyOnly: true }))).results.map((p: { name: string }) => p.name),
        ['exp-90'],
      );
      assert.equal((await body(api.policiesPasswordExpiryListRaw({ days: 30 }))).pagination.count, 1);
      const dup = await failure(api.policiesPasswordExpiryCreate({ passwordExpiryPolicyRequest: { name: 'exp-30', days: 1 } }));
      assert.deepEqual(dup, { status: 400, body: { name: ['policy with this name already exists.'] } });
      const type = (await call(srv, 'GET', '/policies/all/types/')).body.find(
        (t: { model_name: string }) => t.model_name === 'passwordexpirypolicy',
      );
      assert.equal(
        type.description,
        "If password change date is more than x days in the past, invalidate the user's password and show a notice",
      );
    });

    it('evaluation: a fresh password passes; an old one fails with authentik’s messages; a test never changes the password', async () => {
      const uid = await createUser(srv, 'exp-eval', 'exp-eval-password-1');
      const deny = (await call(srv, 'POST', '/policies/password_expiry/', { name: 'exp-eval-deny', days: 30, deny_only: true })).body.pk;
      const expire = (await call(srv, 'POST', '/policies/password_expiry/', { name: 'exp-eval-expire', days: 30 })).body.pk;
      assert.deepEqual(await test(deny, uid), { passing: true, messages: [], log_messages: [] });
      await agePassword(uid, 31);
      const hash = await storedPassword(uid);
      assert.deepEqual(await test(deny, uid), { passing: false, messages: ['Password has expired.'], log_messages: [] });
      assert.deepEqual(await test(expire, uid), {
        passing: false,
        messages: ['Password expired 1 days ago. Please update your password.'],
        log_messages: [],
      });
      assert.equal(await storedPassword(uid), hash, 'a test has no side effects');
      // exactly `days` old is expired (authentik: actual_days >= days)
      await agePassword(uid, 30);
      assert.equal((await test(deny, uid)).passing, false);
      await agePassword(uid, 29);
      assert.equal((await test(deny, uid)).passing, true);
      // a user without a usable password has nothing to expire
      const none = (await call(srv, 'POST', '/core/users/', { username: 'exp-nopassword', name: 'x' })).body.pk;
      await agePassword(none, 400);
      assert.equal((await test(deny, none)).passing, true);
    });

    it('bound to the default flow’s login binding: an expired password is made unusable and the user is not logged in', async () => {
      const stages = await defaultStages(srv);
      const loginBinding = await bindingOf(srv, FLOW, stages.login);
      const policy = (await call(srv, 'POST', '/policies/password_expiry/', { name: 'exp-flow', days: 60 })).body.pk;
      const b = await call(srv, 'POST', '/policies/bindings/', { target: loginBinding, policy, order: 0 });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      const fresh = await createUser(srv, 'exp-fresh', 'exp-fresh-password-1');
      const old = await createUser(srv, 'exp-old', 'exp-old-password-1');
      await agePassword(old, 61);
      const changeDate = (await db().selectFrom('users').select('password_change_date').where('id', '=', old).executeTakeFirstOrThrow())
        .password_change_date;
      // the user has a session elsewhere: it ends with the password
      const elsewhere = await db()
        .insertInto('sessions')
        .values({
          session_key: 'exp-old-elsewhere',
          user_id: old,
          data: '{}',
          expires: new Date(Date.now() + DAY).toISOString(),
          last_ip: '127.0.0.1',
          last_user_agent: '',
          created: new Date().toISOString(),
          last_seen: null,
          lock_until: null,
        })
        .execute();
      assert.ok(elsewhere);

      const signIn = async (username: string, password: string) => {
        const s = new BrowserSession(srv);
        await s.get(FLOW);
        await s.solve(FLOW, { component: 'ak-stage-identification', uid_field: username });
        const end = await s.solve(FLOW, { component: 'ak-stage-password', password });
        const me = await s.core.coreUsersMeRetrieveRaw().catch((e) => e.response as Response);
        return { end, status: 'raw' in me ? me.raw.status : me.status };
      };
      // explaining the flow for the user evaluates the policy as a debug request: the password stays as it is
      const hashBefore = await storedPassword(old);
      const explained = await call(srv, 'GET', `/flows/instances/${FLOW}/explain/?user=${old}`);
      assert.equal(explained.status, 200, JSON.stringify(explained.body));
      assert.ok(
        JSON.stringify(explained.body).includes('Password expired 1 days ago. Please update your password.'),
        JSON.stringify(explained.body),
      );
      assert.equal(await storedPassword(old), hashBefore, 'explain changes nothing');

      const ok = await signIn('exp-fresh', 'exp-fresh-password-1');
      assert.equal(ok.status, 200, 'a fresh password logs in');
      assert.ok(fresh);

      const expired = await signIn('exp-old', 'exp-old-password-1');
      assert.equal(expired.end.component, 'xak-flow-redirect', 'the flow ends without its login stage');
      assert.equal(expired.status, 403, 'not logged in');
      const after = await db()
        .selectFrom('users')
        .select(['password', 'password_change_date'])
        .where('id', '=', old)
        .executeTakeFirstOrThrow();
      assert.ok(after.password.startsWith('!'), 'the password is unusable');
      assert.equal(after.password_change_date, changeDate, 'its change date stays');
      assert.equal(
        await db().selectFrom('sessions').select('session_key').where('session_key', '=', 'exp-old-elsewhere').executeTakeFirst(),
        undefined,
        'the user’s other sessions ended',
      );
      const again = await signIn('exp-old', 'exp-old-password-1');
      assert.equal(again.end.component, 'ak-stage-password', 'the old password no longer works');

      // deny_only: the password stays usable, the login stage is still skipped
      await call(srv, 'PATCH', `/policies/password_expiry/${policy}/`, { deny_only: true });
      const other = await createUser(srv, 'exp-deny', 'exp-deny-password-1');
      await agePassword(other, 61);
      const hash = await storedPassword(other);
      const denied = await signIn('exp-deny', 'exp-deny-password-1');
      assert.equal(denied.status, 403);
      assert.equal(await storedPassword(other), hash);
      await call(srv, 'DELETE', `/policies/password_expiry/${policy}/`);
    });
  });
}
