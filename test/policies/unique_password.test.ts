/**
 * The password uniqueness policy (/policies/unique_password/, an enterprise type in authentik, unrestricted here):
 * authentik's fields, defaults and filters; the password history recorded whenever a password is set while such a
 * policy is bound or among a prompt stage's validation policies (never by the re-hash at login), trimmed to num_historical_passwords; evaluation through
 * /policies/all/{uuid}/test/ against argon2id and imported Django hashes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { createUser } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { authHousekeeping } from '../../src/auth/housekeeping.js';

const FLOW = 'default-authentication-flow';
const REUSED = 'This password has been used previously. Please choose a different one.';

for (const dialect of dialects()) {
  describe(`password uniqueness policy (${dialect})`, () => {
    let srv: TestServer;
    let api: PoliciesApi;
    let flowPbm: string;
    before(async () => {
      srv = await startServer(dialect);
      api = new PoliciesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      flowPbm = (await call(srv, 'GET', `/flows/instances/${FLOW}/`)).body.pk;
    });
    after(async () => srv.close());

    const db = () => srv.app.store.db;
    const history = async (user: number) =>
      (await db().selectFrom('user_password_history').select('old_password').where('user_id', '=', user).orderBy('id').execute()).map(
        (r) => r.old_password,
      );
    const setPassword = async (user: number, password: string) =>
      assert.equal((await call(srv, 'POST', `/core/users/${user}/set_password/`, { password })).status, 204);
    const storedHash = async (user: number) =>
      (await db().selectFrom('users').select('password').where('id', '=', user).executeTakeFirstOrThrow()).password;
    const test = async (pk: string, user: number, context: Record<string, unknown>) => {
      const r = await call(srv, 'POST', `/policies/all/${pk}/test/`, { user, context });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body as { passing: boolean; messages: string[] };
    };

    it('REST: authentik’s defaults, requires_enterprise in types, filters, validation (official client)', async () => {
      const created = await body(api.policiesUniquePasswordCreateRaw({ uniquePasswordPolicyRequest: { name: 'uniq-defaults' } }));
      assertMatches('UniquePasswordPolicy', created);
      assert.deepEqual(
        [created.password_field, created.num_historical_passwords, created.component, created.meta_model_name, created.verbose_name],
        [
          'password',
          1,
          'ak-policy-password-uniqueness-form',
          'authentik_policies_unique_password.uniquepasswordpolicy',
          'Password Uniqueness Policy',
        ],
      );
      await body(api.policiesUniquePasswordCreateRaw({ uniquePasswordPolicyRequest: { name: 'uniq-5', numHistoricalPasswords: 5 } }));
      assert.deepEqual(
        (await body(api.policiesUniquePasswordListRaw({ numHistoricalPasswords: 5 }))).results.map((p: { name: string }) => p.name),
        ['uniq-5'],
      );
      assert.equal((await call(srv, 'GET', '/policies/unique_password/?password_field=password')).body.pagination.count, 2);
      assert.deepEqual((await call(srv, 'POST', '/policies/unique_password/', { name: 'uniq-bad', num_historical_passwords: -1 })).body, {
        num_historical_passwords: ['Ensure this value is greater than or equal to 0.'],
      });
      const type = (await call(srv, 'GET', '/policies/all/types/')).body.find(
        (t: { model_name: string }) => t.model_name === 'uniquepasswordpolicy',
      );
      assert.deepEqual(
        [type.name, type.component, type.requires_enterprise],
        ['Password Uniqueness Policy', 'ak-policy-password-uniqueness-form', true],
      );
      for (const pk of [created.pk]) await call(srv, 'DELETE', `/policies/unique_password/${pk}/`);
      await call(
        srv,
        'DELETE',
        `/policies/unique_password/${(await call(srv, 'GET', '/policies/unique_password/?name=uniq-5')).body.results[0].pk}/`,
      );
    });

    it('history: recorded on every password set only while a policy is bound, trimmed; not by the re-hash at login', async () => {
      const uid = await createUser(srv, 'uniq-hist', 'uniq-hist-password-0');
      assert.deepEqual(await history(uid), [], 'no policy bound: nothing kept');
      const policy = (await call(srv, 'POST', '/policies/unique_password/', { name: 'uniq-hist', num_historical_passwords: 2 })).body.pk;
      await setPassword(uid, 'uniq-hist-password-1');
      assert.deepEqual(await history(uid), [], 'a policy that is bound nowhere keeps nothing');
      const binding = (await call(srv, 'POST', '/policies/bindings/', { target: flowPbm, policy, order: 900, enabled: false })).body.pk;
      await setPassword(uid, 'uniq-hist-password-2');
      assert.deepEqual(await history(uid), [], 'a disabled binding is not a use');
      await call(srv, 'PATCH', `/policies/bindings/${binding}/`, { enabled: true, negate: true });
      await setPassword(uid, 'uniq-hist-password-3');
      assert.deepEqual(await history(uid), [await storedHash(uid)], 'the hash set is recorded');
      await setPassword(uid, 'uniq-hist-password-4');
      const h4 = await storedHash(uid);
      await setPassword(uid, 'uniq-hist-password-5');
      const h5 = await storedHash(uid);
      assert.deepEqual(await history(uid), [h4, h5], 'the two newest kept (num_historical_passwords 2)');

      // an imported hash upgraded at login is not a password change
      const salt = 'uniqsaltuniqsalt';
      const digest = pbkdf2Sync('legacy password 9', salt, 1000, 32, 'sha256').toString('base64');
      await db()
        .updateTable('users')
        .set({ password: `pbkdf2_sha256$1000$${salt}$${digest}` })
        .where('id', '=', uid)
        .execute();
      const s = new BrowserSession(srv);
      await s.get(FLOW);
      await s.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'uniq-hist' });
      const end = await s.solve(FLOW, { component: 'ak-stage-password', password: 'legacy password 9' });
      assert.notEqual(end.component, 'ak-stage-password', JSON.stringify(end));
      assert.match(await storedHash(uid), /^\$argon2id\$/, 'upgraded');
      assert.deepEqual(await history(uid), [h4, h5], 'not recorded');

      // unbound again: the next change forgets the user's history
      await call(srv, 'DELETE', `/policies/bindings/${binding}/`);
      await setPassword(uid, 'uniq-hist-password-6');
      assert.deepEqual(await history(uid), []);
      await call(srv, 'DELETE', `/policies/unique_password/${policy}/`);
    });

    it("in a prompt stage's validation policies (authentik's usual setup) the policy is in use: history kept, a reused password refused", async () => {
      const uid = await createUser(srv, 'uniq-prompt', 'uniq-prompt-password-0');
      const policy = (await call(srv, 'POST', '/policies/unique_password/', { name: 'uniq-prompt', num_historical_passwords: 3 })).body.pk;
      const field = async (key: string) =>
        (await call(srv, 'POST', '/stages/prompt/prompts/', { name: `uniq-${key}`, field_key: key, label: key, type: 'password' })).body.pk;
      const prompt = await call(srv, 'POST', '/stages/prompt/stages/', {
        name: 'uniq-change',
        fields: [await field('password'), await field('password_repeat')],
        validation_policies: [policy],
      });
      assert.equal(prompt.status, 201, JSON.stringify(prompt.body));
      await setPassword(uid, 'uniq-prompt-password-1');
      assert.deepEqual(await history(uid), [await storedHash(uid)], 'recorded: the policy is in use through the prompt stage');
      const write = (await call(srv, 'POST', '/stages/user_write/', { name: 'uniq-write' })).body.pk;
      const slug = 'uniq-change-flow';
      const f = await call(srv, 'POST', '/flows/instances/', { name: slug, slug, title: slug, designation: 'stage_configuration' });
      for (const [order, stage] of [prompt.body.pk, write].entries())
        assert.equal((await call(srv, 'POST', '/flows/bindings/', { target: f.body.pk, stage, order })).status, 201);
      const s = new BrowserSession(srv);
      await s.get(FLOW);
      await s.solve(FLOW, { component: 'ak-stage-identification', uid_field: 'uniq-prompt' });
      await s.solve(FLOW, { component: 'ak-stage-password', password: 'uniq-prompt-password-1' });
      await s.get(slug);
      const reused = await s.solve(slug, {
        component: 'ak-stage-prompt',
        password: 'uniq-prompt-password-1',
        password_repeat: 'uniq-prompt-password-1',
      });
      assert.equal(reused.component, 'ak-stage-prompt');
      assert.deepEqual(reused.response_errors, { non_field_errors: [{ string: REUSED, code: 'invalid' }] });
      const fresh = await s.solve(slug, {
        component: 'ak-stage-prompt',
        password: 'uniq-prompt-password-2',
        password_repeat: 'uniq-prompt-password-2',
      });
      assert.equal(fresh.component, 'xak-flow-redirect', JSON.stringify(fresh));
      assert.equal((await history(uid)).length, 2);
      await call(srv, 'DELETE', `/stages/prompt/stages/${prompt.body.pk}/`);
      await call(srv, 'DELETE', `/policies/unique_password/${policy}/`);
    });

    it('evaluation: the candidate against the last num_historical_passwords hashes (argon2id and Django’s), with authentik’s messages', async () => {
      const uid = await createUser(srv, 'uniq-eval', 'uniq-eval-password-0');
      const policy = (await call(srv, 'POST', '/policies/unique_password/', { name: 'uniq-eval', num_historical_passwords: 2 })).body
        .pk as string;
      const binding = (await call(srv, 'POST', '/policies/bindings/', { target: flowPbm, policy, order: 901, negate: true })).body.pk;
      await setPassword(uid, 'hunter1');
      await setPassword(uid, 'hunter2');
      await setPassword(uid, 'hunter3');
      assert.deepEqual(await test(policy, uid, {}), { passing: false, messages: ['Password not set in context'], log_messages: [] });
      assert.deepEqual(await test(policy, uid, { prompt_data: { password: 'hunter3' } }), {
        passing: false,
        messages: [REUSED],
        log_messages: [],
      });
      assert.equal((await test(policy, uid, { prompt_data: { password: 'hunter2' } })).passing, false);
      assert.equal((await test(policy, uid, { prompt_data: { password: 'hunter1' } })).passing, true, 'beyond the last two');
      assert.equal((await test(policy, uid, { password: 'hunter4' })).passing, true);
      await call(srv, 'PATCH', `/policies/unique_password/${policy}/`, { num_historical_passwords: 1 });
      assert.equal((await test(policy, uid, { prompt_data: { password: 'hunter2' } })).passing, true, 'only the last one now');
      await call(srv, 'PATCH', `/policies/unique_password/${policy}/`, { num_historical_passwords: 0 });
      assert.equal((await test(policy, uid, { prompt_data: { password: 'hunter3' } })).passing, true, '0: nothing to check');
      // a hash in another format (an imported Django pbkdf2_sha256 one) is compared too; a user without history passes
      await call(srv, 'PATCH', `/policies/unique_password/${policy}/`, { num_historical_passwords: 3, password_field: 'new_password' });
      const salt = 'somesaltsomesalt';
      const digest = pbkdf2Sync('imported-old', salt, 1000, 32, 'sha256').toString('base64');
      await db()
        .insertInto('user_password_history')
        .values({ user_id: uid, old_password: `pbkdf2_sha256$1000$${salt}$${digest}`, created_at: new Date().toISOString() })
        .execute();
      assert.deepEqual((await test(policy, uid, { prompt_data: { new_password: 'imported-old' } })).messages, [REUSED]);
      const fresh = await createUser(srv, 'uniq-fresh', 'whatever-1');
      await db().deleteFrom('user_password_history').where('user_id', '=', fresh).execute();
      assert.equal((await test(policy, fresh, { prompt_data: { new_password: 'imported-old' } })).passing, true);
      // with no uniqueness policy left at all, the hourly sweep deletes the whole history
      await authHousekeeping(db());
      assert.ok((await history(uid)).length > 0, 'kept while a policy exists');
      await call(srv, 'DELETE', `/policies/bindings/${binding}/`);
      await call(srv, 'DELETE', `/policies/unique_password/${policy}/`);
      await authHousekeeping(db());
      assert.equal((await db().selectFrom('user_password_history').select('id').execute()).length, 0);
    });
  });
}
