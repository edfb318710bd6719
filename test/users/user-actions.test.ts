/**
 * authentik's user actions `service_account`, `paths` and `set_password_hash` (SQLite and PostgreSQL): a service
 * account with its app password and group made in one go through the official client, refused twice for one name
 * (also in parallel), and by permissions (`add_user` and `add_token`; the group only with `add_group`); the users'
 * distinct paths, searched, and only those of the users a caller may view; a password hash brought from Django or
 * authentik (pbkdf2_sha256, argon2id) that then logs the user in, ending their sessions, and anything else refused.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync, randomBytes } from 'node:crypto';
import { hash } from '@node-rs/argon2';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { CoreApi } from '@goauthentik/api/dist/apis/CoreApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createUser, loggedIn } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { callAs, tokenFor } from '../groups/setup.js';

const djangoPbkdf2 = (password: string) => {
  const salt = randomBytes(12).toString('base64url');
  return `pbkdf2_sha256$600000$${salt}$${pbkdf2Sync(password, salt, 600_000, 32, 'sha256').toString('base64')}`;
};

for (const dialect of dialects()) {
  describe(`user actions: service_account, paths, set_password_hash (${dialect})`, () => {
    let srv: TestServer;
    let core: CoreApi;
    let worker: number;
    let token: string;
    let role: string;
    const as = (method: string, path: string, b?: unknown) => callAs(srv, token, method, path, b);
    const grant = async (permissions: string[], object?: { model: string; object_pk: string }) => {
      const r = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, { permissions, ...(object ?? {}) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };

    before(async () => {
      srv = await startServer(dialect);
      core = new CoreApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
      worker = await createUser(srv, 'ua-worker', 'ua-worker-pass-1');
      token = await tokenFor(srv, worker, 'ua-worker-key-0123456789abcdefghijklmnop');
      role = (await call(srv, 'POST', '/rbac/roles/', { name: 'user-actions' })).body.pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: worker })).status, 204);
    });
    after(async () => srv.close());

    it('service_account: the account, its app password and its group in one go; one name once', async () => {
      const made = await body(core.coreUsersServiceAccountCreateRaw({ userServiceAccountRequest: { name: 'ci-bot', createGroup: true } }));
      assertMatches('UserServiceAccountResponse', made);
      assert.equal(made.username, 'ci-bot');
      const user = (await call(srv, 'GET', `/core/users/${made.user_pk}/`)).body;
      assert.deepEqual(
        [user.type, user.path, user.uid, user.attributes, user.groups],
        [
          'service_account',
          'goauthentik.io/service-accounts',
          made.user_uid,
          { 'goauthentik.io/user/token-expires': true },
          [made.group_pk],
        ],
      );
      const t = (await call(srv, 'GET', '/core/tokens/service-account-ci-bot-password/')).body;
      assert.deepEqual([t.intent, t.user, t.expiring], ['app_password', made.user_pk, true]);
      const days = (Date.parse(t.expires) - Date.now()) / 86_400_000;
      assert.ok(days > 359 && days <= 360, String(days));
      assert.equal((await call(srv, 'GET', '/core/tokens/service-account-ci-bot-password/view_key/')).body.key, made.token);
      const group = (await call(srv, 'GET', `/core/groups/${made.group_pk}/`)).body;
      assert.equal(group.name, 'ci-bot');
      // no usable password
      const pw = await srv.app.store.db.selectFrom('users').select('password').where('id', '=', made.user_pk).executeTakeFirstOrThrow();
      assert.ok(pw.password.startsWith('!'));
      const again = await call(srv, 'POST', '/core/users/service_account/', { name: 'ci-bot' });
      // a taken username: the name field (authentik's test_service_account_validation_duplicate_username); a taken group
      // name of no user: the non-field message
      assert.deepEqual([again.status, again.body], [400, { name: ['This field must be unique.'] }]);
      await call(srv, 'POST', '/core/groups/', { name: 'group-only' });
      const groupTaken = await call(srv, 'POST', '/core/users/service_account/', { name: 'group-only', create_group: true });
      assert.deepEqual(
        [groupTaken.status, groupTaken.body],
        [400, { non_field_errors: ['A user/group with these details already exists'] }],
      );
      const blank = await call(srv, 'POST', '/core/users/service_account/', { name: '  \t' });
      assert.deepEqual([blank.status, blank.body], [400, { name: ['This field may not be blank.'] }]);
      const missing = await call(srv, 'POST', '/core/users/service_account/', {});
      assert.equal(missing.status, 400);
      assert.ok(missing.body.name);
      const fixed = await call(srv, 'POST', '/core/users/service_account/', {
        name: 'nightly',
        expiring: false,
        expires: '2030-01-01T00:00:00Z',
      });
      assert.equal(fixed.status, 200);
      assert.equal(fixed.body.group_pk, undefined);
      const ft = (await call(srv, 'GET', '/core/tokens/service-account-nightly-password/')).body;
      assert.deepEqual([ft.expiring, ft.expires.slice(0, 10)], [false, '2030-01-01']);
    });

    it('service_account in parallel for one name: one account, the others refused with a 400', async () => {
      const answers = await Promise.all(
        Array.from({ length: 6 }, () => call(srv, 'POST', '/core/users/service_account/', { name: 'racer', create_group: true })),
      );
      assert.deepEqual(answers.map((a) => a.status).sort(), [200, 400, 400, 400, 400, 400]);
      const users = await call(srv, 'GET', '/core/users/?username=racer');
      assert.equal(users.body.results.length, 1);
      const groups = await call(srv, 'GET', '/core/groups/?name=racer');
      assert.equal(groups.body.results.length, 1);
    });

    it('service_account by permissions: add_user and add_token; the group only with add_group', async () => {
      assert.equal((await as('POST', '/core/users/service_account/', { name: 'perm-bot' })).status, 403);
      await grant(['authentik_core.add_user']);
      assert.equal((await as('POST', '/core/users/service_account/', { name: 'perm-bot' })).status, 403);
      await grant(['authentik_core.add_token']);
      const made = await as('POST', '/core/users/service_account/', { name: 'perm-bot', create_group: true });
      assert.equal(made.status, 200, JSON.stringify(made.body));
      assert.equal(made.body.group_pk, undefined);
      await grant(['authentik_core.add_group']);
      const grouped = await as('POST', '/core/users/service_account/', { name: 'perm-bot-2', create_group: true });
      assert.ok(grouped.body.group_pk);
    });

    it('paths: distinct and sorted, searched like the users list, only the users the caller may view', async () => {
      await createUser(srv, 'eng-lead', 'eng-lead-pass-1', { path: 'people/eng' });
      await createUser(srv, 'ops-lead', 'ops-lead-pass-1', { path: 'people/ops' });
      const all = await body(core.coreUsersPathsRetrieveRaw({}));
      assertMatches('UserPath', all);
      assert.deepEqual(all.paths, [...new Set(all.paths)].sort());
      for (const p of ['users', 'people/eng', 'people/ops', 'goauthentik.io/service-accounts']) assert.ok(all.paths.includes(p), p);
      assert.deepEqual((await call(srv, 'GET', '/core/users/paths/?search=eng-lead')).body.paths, ['people/eng']);
      // a caller with view_user on one user sees that user's path only
      const ops = (await call(srv, 'GET', '/core/users/?username=ops-lead')).body.results[0].pk;
      await grant(['view_user'], { model: 'authentik_core.user', object_pk: String(ops) });
      assert.deepEqual((await as('GET', '/core/users/paths/')).body.paths, ['people/ops']);
    });

    it('set_password_hash: a Django pbkdf2 or an argon2id hash logs the user in after; sessions end; other values refused', async () => {
      const uid = await createUser(srv, 'migrated', 'old-password-1');
      const before = await loggedIn(srv, 'migrated', 'old-password-1');
      const r = await call(srv, 'POST', `/core/users/${uid}/set_password_hash/`, { password: djangoPbkdf2('from-django-1') });
      assert.equal(r.status, 204, JSON.stringify(r.body));
      assert.equal((await before.me()).status, 403, 'the session ended with the new hash');
      await loggedIn(srv, 'migrated', 'from-django-1');
      const argon = await hash('from-authentik-1', { memoryCost: 1024, timeCost: 1, parallelism: 1, algorithm: 2 });
      assert.equal((await call(srv, 'POST', `/core/users/${uid}/set_password_hash/`, { password: `argon2${argon}` })).status, 204);
      await loggedIn(srv, 'migrated', 'from-authentik-1');
      const stored = await srv.app.store.db.selectFrom('users').select('password').where('id', '=', uid).executeTakeFirstOrThrow();
      for (const bad of ['plain text', 'md5$abc$def', 'pbkdf2_sha256$0$salt$aGFzaA==', '$argon2id$v=19$m=1,t=1$x$y']) {
        const refused = await call(srv, 'POST', `/core/users/${uid}/set_password_hash/`, { password: bad });
        assert.equal(refused.status, 400, bad);
        assert.ok(refused.body.password, bad);
      }
      const after = await srv.app.store.db.selectFrom('users').select('password').where('id', '=', uid).executeTakeFirstOrThrow();
      assert.equal(after.password, stored.password, 'nothing written by a refused hash');
      // by reset_user_password on a user the caller may see, as set_password
      assert.equal((await as('POST', `/core/users/${uid}/set_password_hash/`, { password: djangoPbkdf2('x-1') })).status, 404);
      await grant(['view_user'], { model: 'authentik_core.user', object_pk: String(uid) });
      assert.equal((await as('POST', `/core/users/${uid}/set_password_hash/`, { password: djangoPbkdf2('x-1') })).status, 403);
      await grant(['reset_user_password'], { model: 'authentik_core.user', object_pk: String(uid) });
      assert.equal((await as('POST', `/core/users/${uid}/set_password_hash/`, { password: djangoPbkdf2('x-2') })).status, 204);
    });
  });
}
