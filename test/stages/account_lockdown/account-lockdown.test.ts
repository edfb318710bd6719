/**
 * Account lockdown (authentik 2026.8's account lockdown stage, `POST /core/users/account_lockdown/` and the brand's
 * `flow_lockdown`): the stage's API through the official client; an administrator locking another account from their
 * browser session (deactivated, password unusable, every session ended, every token revoked, a `user_write` event
 * with the reason); self-service (logged out and sent to the completion flow, or refused without one); who may lock
 * whom; a token caller's single-use link; a plan nobody confirmed; the API's errors.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, ADMIN_PASSWORD, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { createStage, createUser, flowOf, loggedIn } from '../../helpers/flows.js';
import { body, clients } from '../../rest/contract/client.js';

const post = (b: Browser, path: string, data: unknown) =>
  b.fetch(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(data),
  });

for (const dialect of dialects()) {
  describe(`account lockdown (${dialect})`, () => {
    let srv: TestServer;
    let lockStage: string;
    let brand: string;
    let provider: number;
    const db = () => srv.app.store.db;

    const userRow = (pk: number) =>
      db().selectFrom('users').select(['is_active', 'password']).where('id', '=', pk).executeTakeFirstOrThrow();
    const count = async (table: 'sessions' | 'tokens' | 'oauth2_refresh_tokens', pk: number) =>
      (await db().selectFrom(table).select('user_id').where('user_id', '=', pk).execute()).length;
    const lockdownEvents = async (username: string) =>
      (await db().selectFrom('events').select(['context', 'username']).where('action', '=', 'user_write').execute())
        .map((e) => ({ by: e.username, context: JSON.parse(e.context) }))
        .filter((e) => e.context.action_id === 'account_lockdown' && e.context.affected_user === username)
        .map((e) => {
          // (the request the lockdown ran in, as every event from a request records it: test/events/from-http.test.ts)
          const { http_request, ...context } = e.context;
          assert.equal(http_request.path, '/api/v3/flows/executor/account-lockdown/');
          return { ...e, context };
        });

    /** a user with a password, two browser sessions, an API token, an app password and an OAuth2 refresh token */
    async function victim(username: string) {
      const pk = await createUser(srv, username, `${username}-pass-1`);
      const browsers = [await loggedIn(srv, username, `${username}-pass-1`), await loggedIn(srv, username, `${username}-pass-1`)];
      for (const intent of ['api', 'app_password'])
        assert.equal((await call(srv, 'POST', '/core/tokens/', { identifier: `${username}-${intent}`, intent, user: pk })).status, 201);
      const now = new Date().toISOString();
      await db()
        .insertInto('oauth2_refresh_tokens')
        .values({
          provider_id: provider,
          user_id: pk,
          scope: 'openid',
          auth_time: now,
          session_id: null,
          revoked: 0,
          expires: new Date(Date.now() + 3_600_000).toISOString(),
          expiring: 1,
          created: now,
          token_hash: `hash-of-${username}`,
          id_token: '{}',
          code_id: null,
        } as never)
        .execute();
      assert.equal(await count('sessions', pk), 2);
      assert.equal(await count('tokens', pk), 2);
      assert.equal(await count('oauth2_refresh_tokens', pk), 1);
      return { pk, browsers };
    }

    async function assertLockedDown(pk: number, browsers: Browser[]) {
      const row = await userRow(pk);
      assert.equal(Number(row.is_active), 0);
      assert.ok(row.password.startsWith('!'), 'the password is unusable');
      for (const b of browsers) assert.equal((await b.me()).status, 403);
      assert.equal(await count('sessions', pk), 0);
      assert.equal(await count('tokens', pk), 0);
      assert.equal(await count('oauth2_refresh_tokens', pk), 0);
    }

    before(async () => {
      srv = await startServer(dialect);
      const reason = await call(srv, 'POST', '/stages/prompt/prompts/', {
        name: 'lockdown-reason',
        field_key: 'lockdown_reason',
        label: 'Reason',
        type: 'text',
        required: true,
      });
      assert.equal(reason.status, 201, JSON.stringify(reason.body));
      const prompt = await createStage(srv, '/stages/prompt/stages/', { name: 'lockdown-prompt', fields: [reason.body.pk] });
      await flowOf(srv, 'lockdown-complete', [], { designation: 'stage_configuration', authentication: 'none' });
      const complete = (await call(srv, 'GET', '/flows/instances/?slug=lockdown-complete')).body.results[0].pk;
      lockStage = await createStage(srv, '/stages/account_lockdown/', { name: 'lockdown', self_service_completion_flow: complete });
      await flowOf(srv, 'account-lockdown', [prompt, lockStage], {
        designation: 'stage_configuration',
        authentication: 'require_authenticated',
      });
      const bare = await createStage(srv, '/stages/account_lockdown/', { name: 'bare-lockdown' });
      await flowOf(srv, 'lockdown-unconfirmed', [bare], { designation: 'stage_configuration', authentication: 'require_authenticated' });
      brand = (await call(srv, 'GET', '/core/brands/?domain=authentik-default')).body.results[0].brand_uuid;
      const flows = (await call(srv, 'GET', '/flows/instances/?page_size=100')).body.results as { pk: string; slug: string }[];
      const flow = (slug: string) => flows.find((f) => f.slug === slug)!.pk;
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'lockdown-app',
        authorization_flow: flow('default-provider-authorization-implicit-consent'),
        invalidation_flow: flow('default-provider-invalidation-flow'),
        redirect_uris: [{ matching_mode: 'strict', url: 'http://127.0.0.1/cb' }],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      provider = p.body.pk;
    });
    after(async () => srv.close());

    it('the stage API: defaults, list, filters, retrieve, update, destroy (official client)', async () => {
      const api = clients(srv).stages;
      const created = await body(api.stagesAccountLockdownCreateRaw({ accountLockdownStageRequest: { name: 'api-lockdown' } }));
      assertMatches('AccountLockdownStage', created);
      assert.equal(created.component, 'ak-stage-account-lockdown-form');
      assert.equal(created.meta_model_name, 'authentik_stages_account_lockdown.accountlockdownstage');
      assert.deepEqual(
        [
          created.deactivate_user,
          created.set_unusable_password,
          created.delete_sessions,
          created.revoke_tokens,
          created.self_service_completion_flow,
        ],
        [true, true, true, true, null],
      );
      const changed = await body(
        api.stagesAccountLockdownPartialUpdateRaw({ stageUuid: created.pk, patchedAccountLockdownStageRequest: { revokeTokens: false } }),
      );
      assert.equal(changed.revoke_tokens, false);
      const list = await body(api.stagesAccountLockdownListRaw({ revokeTokens: false }));
      assertMatches('PaginatedAccountLockdownStageList', list);
      assert.deepEqual(
        list.results.map((s: { name: string }) => s.name),
        ['api-lockdown'],
      );
      assert.equal((await body(api.stagesAccountLockdownRetrieveRaw({ stageUuid: lockStage }))).flow_set[0].slug, 'account-lockdown');
      assert.equal((await api.stagesAccountLockdownDestroyRaw({ stageUuid: created.pk })).raw.status, 204);
      const bad = await call(srv, 'POST', '/stages/account_lockdown/', { name: 'x', self_service_completion_flow: 'not-a-uuid' });
      assert.equal(bad.status, 400);
      assert.ok(bad.body.self_service_completion_flow);
    });

    it('without a lockdown flow on the brand: 400, nothing planned', async () => {
      const r = await call(srv, 'POST', '/core/users/account_lockdown/', {});
      assert.equal(r.status, 400);
      assert.deepEqual(r.body, { non_field_errors: ['No lockdown flow configured.'] });
      const flow = (await call(srv, 'GET', '/flows/instances/?slug=account-lockdown')).body.results[0].pk;
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_lockdown: flow })).status, 200);
      assert.equal((await call(srv, 'GET', '/core/brands/current/')).body.flow_lockdown, 'account-lockdown');
    });

    it('bad bodies: unknown user, an internal service account, a wrong type (400 on `user`)', async () => {
      const unknown = await call(srv, 'POST', '/core/users/account_lockdown/', { user: 987654 });
      assert.equal(unknown.status, 400);
      assert.deepEqual(unknown.body, { user: ['Invalid pk "987654" - object does not exist.'] });
      // (the API makes no internal service account: an outpost's own, which Keystage does not have yet)
      const svc = await createUser(srv, 'outpost-svc', 'outpost-svc-pass');
      await db().updateTable('users').set({ type: 'internal_service_account' }).where('id', '=', svc).execute();
      assert.equal((await call(srv, 'POST', '/core/users/account_lockdown/', { user: svc })).status, 400);
      const wrong = await call(srv, 'POST', '/core/users/account_lockdown/', { user: 'abc' });
      assert.equal(wrong.status, 400);
      assert.ok(wrong.body.user);
    });

    it('an administrator locks another account from their session: every credential ends, one event with the reason', async () => {
      const { pk, browsers } = await victim('mallory-victim');
      const admin = await loggedIn(srv, 'akadmin', ADMIN_PASSWORD);
      const r = await post(admin, '/core/users/account_lockdown/', { user: pk });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assertMatches('Link', r.body);
      assert.equal(new URL(r.body.link).pathname, '/if/flow/account-lockdown/');
      const first = await admin.get('account-lockdown');
      assert.equal(first.body.component, 'ak-stage-prompt');
      assert.equal(await count('sessions', pk), 2, 'nothing happens before the confirmation');
      const done = await admin.solve('account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'phished' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      await assertLockedDown(pk, browsers);
      assert.equal((await admin.me()).status, 200, "the administrator's own session goes on");
      assert.deepEqual(await lockdownEvents('mallory-victim'), [
        { by: 'akadmin', context: { action_id: 'account_lockdown', reason: 'phished', affected_user: 'mallory-victim' } },
      ]);
      // the old password no longer logs in (the account is inactive and its password unusable)
      const again = new Browser(srv.api);
      await again.get('default-authentication-flow');
      await again.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'mallory-victim' });
      const pw = await again.solve('default-authentication-flow', { component: 'ak-stage-password', password: 'mallory-victim-pass-1' });
      assert.notEqual(pw.body.component, 'xak-flow-redirect');
      assert.equal((await again.me()).status, 403);
    });

    it('self-service: the person is logged out and sent to the completion flow', async () => {
      const { pk, browsers } = await victim('self-locker');
      const [me, other] = browsers as [Browser, Browser];
      const before = me.session;
      const r = await post(me, '/core/users/account_lockdown/', {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((await me.get('account-lockdown')).body.component, 'ak-stage-prompt');
      const done = await me.solve('account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'lost my laptop' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal(done.body.to, '/if/flow/lockdown-complete/');
      assert.notEqual(me.session, before, 'the session cookie was replaced');
      await assertLockedDown(pk, [me, other]);
      assert.deepEqual(await lockdownEvents('self-locker'), [
        { by: 'self-locker', context: { action_id: 'account_lockdown', reason: 'lost my laptop', affected_user: 'self-locker' } },
      ]);
    });

    it('self-service without a completion flow is refused before anything is done', async () => {
      const patched = await call(srv, 'PATCH', `/stages/account_lockdown/${lockStage}/`, { self_service_completion_flow: null });
      assert.equal(patched.status, 200);
      try {
        const { pk, browsers } = await victim('no-completion');
        const me = browsers[0]!;
        assert.equal((await post(me, '/core/users/account_lockdown/', {})).status, 200);
        await me.get('account-lockdown');
        const r = await me.solve('account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'x' } as never);
        assert.equal(r.body.component, 'ak-stage-access-denied');
        assert.equal(r.body.error_message, 'Self-service account lockdown requires a completion flow.');
        assert.equal(Number((await userRow(pk)).is_active), 1);
        assert.equal(await count('sessions', pk), 2);
        assert.equal(await count('tokens', pk), 2);
      } finally {
        const complete = (await call(srv, 'GET', '/flows/instances/?slug=lockdown-complete')).body.results[0].pk;
        await call(srv, 'PATCH', `/stages/account_lockdown/${lockStage}/`, { self_service_completion_flow: complete });
      }
    });

    it('who may lock whom: 403 without change_user on the account; with it, yes — but never a superuser', async () => {
      const plainPk = await createUser(srv, 'plain-locker', 'plain-locker-pass');
      const plain = await loggedIn(srv, 'plain-locker', 'plain-locker-pass');
      const target = await createUser(srv, 'lock-target', 'lock-target-pass');
      const denied = await post(plain, '/core/users/account_lockdown/', { user: target });
      assert.equal(denied.status, 403);
      assert.deepEqual(denied.body, { detail: 'You do not have permission to perform this action.' });
      // a role holding change_user on that one user
      const role = await call(srv, 'POST', '/rbac/roles/', { name: 'lockers' });
      assert.equal(role.status, 201);
      const assigned = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role.body.pk}/assign/`, {
        permissions: ['change_user'],
        model: 'authentik_core.user',
        object_pk: String(target),
      });
      assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role.body.pk}/add_user/`, { pk: plainPk })).status, 204);
      assert.equal((await post(plain, '/core/users/account_lockdown/', { user: target })).status, 200);
      await plain.get('account-lockdown');
      const done = await plain.solve('account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'by delegation' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal(Number((await userRow(target)).is_active), 0);
      // the administrator (a superuser) is out of reach of a permission
      const akadmin = (await call(srv, 'GET', '/core/users/?username=akadmin')).body.results[0].pk;
      assert.equal((await post(plain, '/core/users/account_lockdown/', { user: akadmin })).status, 403);
    });

    it('a token caller gets a single-use link; it locks only in the hands of someone allowed to', async () => {
      const { pk, browsers } = await victim('token-target');
      const r = await call(srv, 'POST', '/core/users/account_lockdown/', { user: pk });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const link = new URL(r.body.link);
      assert.equal(link.pathname, '/if/flow/account-lockdown/');
      const token = link.searchParams.get('flow_token');
      assert.ok(token);
      // someone not allowed opens it: refused at the stage, nothing done, the link used up
      await createUser(srv, 'stranger', 'stranger-pass');
      const stranger = await loggedIn(srv, 'stranger', 'stranger-pass');
      const seen = await stranger.get('account-lockdown', `flow_token=${token}`);
      assert.equal(seen.body.component, 'ak-stage-prompt');
      const refused = await stranger.solve('account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'mine now' } as never);
      assert.equal(refused.body.component, 'ak-stage-access-denied');
      assert.equal(refused.body.error_message, 'You do not have permission to lock down this account.');
      assert.equal(Number((await userRow(pk)).is_active), 1);
      // a second link, opened by an administrator
      const second = new URL((await call(srv, 'POST', '/core/users/account_lockdown/', { user: pk })).body.link);
      const admin = await loggedIn(srv, 'akadmin', ADMIN_PASSWORD);
      await admin.get('account-lockdown', `flow_token=${second.searchParams.get('flow_token')}`);
      const done = await admin.solve('account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'scripted' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      await assertLockedDown(pk, browsers);
    });

    it('a plan nobody confirmed (the flow page visited, no prompt) locks nothing', async () => {
      const pk = await createUser(srv, 'visitor', 'visitor-pass');
      const b = await loggedIn(srv, 'visitor', 'visitor-pass');
      const r = await b.get('lockdown-unconfirmed');
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'Confirm the account lockdown first.');
      assert.equal(Number((await userRow(pk)).is_active), 1);
      assert.equal((await b.me()).status, 200);
    });

    it("the default flows (opt-in): warning and reason, then the completion flow's message after a self-service lockdown", async () => {
      const flows = (await call(srv, 'GET', '/flows/instances/?page_size=100')).body.results as { pk: string; slug: string }[];
      const lockdown = flows.find((f) => f.slug === 'default-account-lockdown');
      assert.ok(lockdown && flows.some((f) => f.slug === 'default-account-lockdown-complete'));
      // (opt-in: the brand named no lockdown flow before the test above set one — 'without a lockdown flow on the brand')
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_lockdown: lockdown.pk })).status, 200);
      try {
        const { pk, browsers } = await victim('default-flow-user');
        const me = browsers[0]!;
        const link = await post(me, '/core/users/account_lockdown/', {});
        assert.equal(new URL(link.body.link).pathname, '/if/flow/default-account-lockdown/');
        const first = await me.get('default-account-lockdown');
        assert.equal(first.body.component, 'ak-stage-prompt');
        assert.deepEqual(
          first.body.fields.map((f: { field_key: string; type: string; required: boolean }) => [f.field_key, f.type, f.required]),
          [
            ['lockdown_warning', 'alert_danger', false],
            ['lockdown_reason', 'text_area', true],
          ],
        );
        const empty = await me.solve('default-account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: '' } as never);
        assert.ok(empty.body.response_errors?.lockdown_reason, JSON.stringify(empty.body));
        assert.equal(Number((await userRow(pk)).is_active), 1);
        const done = await me.solve('default-account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: 'phone stolen' } as never);
        assert.equal(done.body.to, '/if/flow/default-account-lockdown-complete/');
        await assertLockedDown(pk, browsers);
        const message = await me.get('default-account-lockdown-complete');
        assert.equal(message.body.component, 'ak-stage-prompt');
        assert.match(message.body.fields[0].initial_value, /Your account has been locked/);
      } finally {
        const custom = flows.find((f) => f.slug === 'account-lockdown')!.pk;
        await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_lockdown: custom });
      }
    });

    it('parallel lockdowns of one account: both flows finish, the account ends locked once per event', async () => {
      const { pk, browsers } = await victim('raced');
      const admins = [await loggedIn(srv, 'akadmin', ADMIN_PASSWORD), await loggedIn(srv, 'akadmin', ADMIN_PASSWORD)];
      for (const a of admins) {
        assert.equal((await post(a, '/core/users/account_lockdown/', { user: pk })).status, 200);
        await a.get('account-lockdown');
      }
      const results = await Promise.all(
        admins.map((a, i) => a.solve('account-lockdown', { component: 'ak-stage-prompt', lockdown_reason: `race ${i}` } as never)),
      );
      for (const r of results) assert.equal(r.body.component, 'xak-flow-redirect', JSON.stringify(r.body));
      await assertLockedDown(pk, browsers);
      assert.equal((await lockdownEvents('raced')).length, 2);
    });
  });
}
