/**
 * Tokens: the bootstrap token is akadmin's, found by owner and managed id only (a user's token named like it, or
 * claiming its managed id, never receives the operator's key); `managed` is read-only; `set_key` needs set_token_key and
 * takes keys of 32 characters or more; app passwords' `expires` is capped by the maximum token lifetime; the
 * `token-expires` attribute rules PATCH/PUT as it rules create.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { ADMIN_TOKEN, call, dialects, freshDatabase, startServer, type TestServer } from '../helpers/server.js';
import { sql } from 'kysely';
import { BOOTSTRAP_TOKEN_MANAGED } from '../../src/instance/bootstrap.js';

const ROTATED = 'rotated-bootstrap-token-' + 'r'.repeat(40);
const as = (srv: TestServer, key: string) => (method: string, path: string, body?: unknown) =>
  call(srv, method, path, body, { authorization: `Bearer ${key}` });

/** a user with an API token of their own (created by the admin); returns the user's pk and key */
async function userWithKey(srv: TestServer, username: string, attributes: Record<string, unknown> = {}) {
  const u = await call(srv, 'POST', '/core/users/', { username, name: username, attributes });
  assert.equal(u.status, 201, JSON.stringify(u.body));
  const t = await call(srv, 'POST', '/core/tokens/', { identifier: `${username}-api`, intent: 'api', user: u.body.pk, expiring: false });
  assert.equal(t.status, 201, JSON.stringify(t.body));
  const key = (await call(srv, 'GET', `/core/tokens/${username}-api/view_key/`)).body.key as string;
  return { pk: u.body.pk as number, key };
}

for (const dialect of dialects()) {
  describe(`bootstrap token (${dialect})`, () => {
    it("a user's token named like the bootstrap token, or claiming its managed id, never receives the bootstrap key", async () => {
      const db = await freshDatabase(dialect);
      const start = (overrides = {}) => startServer(dialect, { ...db.overrides, ...overrides });
      let srv = await start();
      try {
        const alice = await userWithKey(srv, 'alice');
        const asAlice = as(srv, alice.key);
        // read-only for superusers too (authentik's ManagedSerializer)
        const byAdmin = await call(srv, 'POST', '/core/tokens/', {
          identifier: 'admin-managed',
          intent: 'api',
          managed: BOOTSTRAP_TOKEN_MANAGED,
        });
        assert.equal(byAdmin.status, 201, JSON.stringify(byAdmin.body));
        assert.equal(byAdmin.body.managed, null);
        assert.equal((await call(srv, 'PATCH', '/core/tokens/admin-managed/', { managed: BOOTSTRAP_TOKEN_MANAGED })).body.managed, null);
        // the operator deletes the bootstrap token (the next start brings it back)
        assert.equal((await call(srv, 'DELETE', '/core/tokens/authentik-bootstrap-token/')).status, 204);
        const byName = await asAlice('POST', '/core/tokens/', { identifier: 'authentik-bootstrap-token', intent: 'api' });
        assert.equal(byName.status, 201, JSON.stringify(byName.body));
        const byManaged = await asAlice('POST', '/core/tokens/', {
          identifier: 'alice-managed',
          intent: 'api',
          managed: BOOTSTRAP_TOKEN_MANAGED,
        });
        assert.equal(byManaged.status, 201, JSON.stringify(byManaged.body));
        assert.equal(byManaged.body.managed, null, 'managed is read-only: the sent value is ignored');
        const patched = await asAlice('PATCH', '/core/tokens/alice-managed/', { managed: BOOTSTRAP_TOKEN_MANAGED });
        assert.equal(patched.status, 200);
        assert.equal(patched.body.managed, null);
        const stored = await srv.app.store.db.selectFrom('tokens').select('managed').where('user_id', '=', alice.pk).execute();
        assert.deepEqual(
          stored.map((t) => t.managed),
          [null, null, null],
        );
        // a database written before `managed` became read-only: alice's token carries the managed id
        await srv.app.store.db
          .updateTable('tokens')
          .set({ managed: BOOTSTRAP_TOKEN_MANAGED })
          .where('identifier', '=', 'alice-managed')
          .execute();

        const aliceKeys = async () =>
          Promise.all(
            ['authentik-bootstrap-token', 'alice-managed'].map(
              async (id) => (await as(srv, alice.key)('GET', `/core/tokens/${id}/view_key/`)).body.key,
            ),
          );
        const meAs = async (key: string) => as(srv, key)('GET', '/core/users/me/');

        // restart with the same key
        await srv.close();
        srv = await start();
        for (const key of await aliceKeys()) assert.notEqual(key, ADMIN_TOKEN, "alice's token does not hold the bootstrap key");
        const me = await meAs(ADMIN_TOKEN);
        assert.equal(me.status, 200);
        assert.equal(me.body.user.username, 'akadmin');
        const bootstrapRows = await srv.app.store.db
          .selectFrom('tokens')
          .innerJoin('users', 'users.id', 'tokens.user_id')
          .select(['users.username', 'tokens.identifier', 'tokens.expiring', 'tokens.intent'])
          .where('tokens.managed', '=', BOOTSTRAP_TOKEN_MANAGED)
          .execute();
        assert.equal(bootstrapRows.length, 1);
        assert.equal(bootstrapRows[0]!.username, 'akadmin');
        assert.match(bootstrapRows[0]!.identifier, /^authentik-bootstrap-token-[0-9a-f]{8}$/, 'the taken identifier is left to alice');
        assert.equal(Number(bootstrapRows[0]!.expiring), 0);
        assert.equal(
          (await as(srv, alice.key)('GET', '/core/tokens/authentik-bootstrap-token/')).body.user,
          alice.pk,
          'alice keeps her token',
        );

        // the operator rotates the key: akadmin's token takes it, alice's do not
        await srv.close();
        srv = await start({ bootstrapToken: ROTATED });
        for (const key of await aliceKeys()) assert.notEqual(key, ROTATED);
        assert.equal((await meAs(ROTATED)).body.user.username, 'akadmin');
        assert.equal((await meAs(ADMIN_TOKEN)).status, 403, 'the old key is gone');
        assert.equal(
          (await srv.app.store.db.selectFrom('tokens').select('token_uuid').where('managed', '=', BOOTSTRAP_TOKEN_MANAGED).execute())
            .length,
          1,
        );
      } finally {
        await srv.close();
        await db.drop();
      }
    });

    it("a user's token that already holds the bootstrap key gets a fresh one; akadmin's token takes the key", async () => {
      const db = await freshDatabase(dialect);
      const start = (overrides = {}) => startServer(dialect, { ...db.overrides, ...overrides });
      let srv = await start();
      try {
        const bob = await userWithKey(srv, 'bob');
        // what the old bootstrap did: the operator's key written into a user's token
        await call(srv, 'DELETE', '/core/tokens/authentik-bootstrap-token/');
        const { storedKey } = await import('../../src/tokens/tokens.js');
        const { secretsOf } = await import('../../src/instance/secrets.js');
        await srv.app.store.db
          .updateTable('tokens')
          .set(storedKey(secretsOf(srv.app.store.db), ROTATED))
          .where('identifier', '=', 'bob-api')
          .execute();
        await srv.close();
        srv = await start({ bootstrapToken: ROTATED });
        const me = await as(srv, ROTATED)('GET', '/core/users/me/');
        assert.equal(me.body.user.username, 'akadmin');
        const row = await srv.app.store.db
          .selectFrom('tokens')
          .select(['user_id'])
          .where('identifier', '=', 'bob-api')
          .executeTakeFirstOrThrow();
        assert.equal(row.user_id, bob.pk);
        const bobKey = (await as(srv, ROTATED)('GET', '/core/tokens/bob-api/view_key/')).body.key as string;
        assert.notEqual(bobKey, ROTATED);
        assert.equal(bobKey.length, 60);
      } finally {
        await srv.close();
        await db.drop();
      }
    });
    it('a bootstrap token that cannot be written is logged as an error, not swallowed; the server still starts', async () => {
      const db = await freshDatabase(dialect);
      const start = (overrides = {}, lines?: string[]) =>
        startServer(dialect, { ...db.overrides, ...overrides }, lines ? { logStream: { write: (l: string) => void lines.push(l) } } : {});
      let srv = await start();
      try {
        // the database refuses any new token key (a read-only replica, a permissions mistake, …)
        const refuse =
          dialect === 'sqlite'
            ? [
                "CREATE TRIGGER no_token_keys BEFORE UPDATE OF key_hash ON tokens BEGIN SELECT RAISE(ABORT, 'token keys are frozen'); END",
                "CREATE TRIGGER no_new_tokens BEFORE INSERT ON tokens BEGIN SELECT RAISE(ABORT, 'token keys are frozen'); END",
              ]
            : [
                "CREATE FUNCTION no_token_keys() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'token keys are frozen'; END $$ LANGUAGE plpgsql",
                'CREATE TRIGGER no_token_keys BEFORE UPDATE OF key_hash ON tokens FOR EACH ROW EXECUTE FUNCTION no_token_keys()',
                'CREATE TRIGGER no_new_tokens BEFORE INSERT ON tokens FOR EACH ROW EXECUTE FUNCTION no_token_keys()',
              ];
        for (const statement of refuse) await sql.raw(statement).execute(srv.app.store.db);
        await srv.close();
        // the operator rotates the bootstrap key: writing it fails
        const lines: string[] = [];
        srv = await start({ bootstrapToken: ROTATED, logLevel: 'warn' }, lines);
        const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { message?: string } });
        const failure = logged.find((l) => l.msg === 'bootstrap: could not write the bootstrap token');
        assert.ok(failure, lines.join(''));
        assert.equal(failure.level, 50, 'logged as an error');
        assert.match(failure.err?.message ?? '', /token keys are frozen/);
        assert.equal((await as(srv, ROTATED)('GET', '/core/users/me/')).status, 403, 'the new key was not written');
        assert.equal((await as(srv, ADMIN_TOKEN)('GET', '/core/users/me/')).body.user.username, 'akadmin', 'the old one stays');
        // a start whose bootstrap write succeeds logs nothing of the kind
        await srv.close();
        const clean: string[] = [];
        srv = await start({ logLevel: 'warn' }, clean);
        assert.ok(!clean.some((l) => l.includes('bootstrap')), clean.join(''));
      } finally {
        await srv.close();
        await db.drop();
      }
    });
  });

  describe(`token writes (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('set_key: superusers and holders of set_token_key (the owner alone gets 403); keys shorter than 32 characters are a 400 on `key`', async () => {
      const carol = await userWithKey(srv, 'carol');
      const asCarol = as(srv, carol.key);
      assert.equal((await asCarol('POST', '/core/tokens/', { identifier: 'carol-own', intent: 'api' })).status, 201);
      const denied = await asCarol('POST', '/core/tokens/carol-own/set_key/', { key: 'c'.repeat(40) });
      assert.deepEqual(
        { status: denied.status, body: denied.body },
        { status: 403, body: { detail: 'You do not have permission to perform this action.' } },
      );
      const before = await srv.app.store.db
        .selectFrom('tokens')
        .select('key')
        .where('identifier', '=', 'carol-own')
        .executeTakeFirstOrThrow();
      assert.notEqual(before.key, 'c'.repeat(40));

      const short = await call(srv, 'POST', '/core/tokens/carol-own/set_key/', { key: 's'.repeat(31) });
      assert.deepEqual(
        { status: short.status, body: short.body },
        { status: 400, body: { key: ['Ensure this field has at least 32 characters.'] } },
      );
      const ok = await call(srv, 'POST', '/core/tokens/carol-own/set_key/', { key: 'k'.repeat(32) });
      assert.equal(ok.status, 204);
      assert.equal((await call(srv, 'GET', '/core/tokens/carol-own/view_key/')).body.key, 'k'.repeat(32));
      const clash = await call(srv, 'POST', '/core/tokens/carol-api/set_key/', { key: 'k'.repeat(32) });
      assert.deepEqual({ status: clash.status, body: clash.body }, { status: 400, body: { key: ['Token with this key already exists.'] } });
      // a role granting authentik_core.set_token_key lets her set her own token's key (authentik's permission_required)
      const role = (await call(srv, 'POST', '/rbac/roles/', { name: 'key-setters' })).body.pk;
      const assigned = await call(srv, 'POST', `/rbac/permissions/assigned_by_roles/${role}/assign/`, {
        permissions: ['authentik_core.set_token_key'],
      });
      assert.equal(assigned.status, 200, JSON.stringify(assigned.body));
      const carolPk = (await call(srv, 'GET', '/core/users/?username=carol')).body.results[0].pk;
      assert.equal((await call(srv, 'POST', `/rbac/roles/${role}/add_user/`, { pk: carolPk })).status, 204);
      assert.equal((await asCarol('POST', '/core/tokens/carol-own/set_key/', { key: 'm'.repeat(40) })).status, 204);
      assert.equal((await call(srv, 'GET', '/core/tokens/carol-own/view_key/')).body.key, 'm'.repeat(40));
      // the events as authentik's: secret_view names the token as `secret`, set_key is a model_updated of it
      const last = async (action: string) =>
        JSON.parse(
          (
            await srv.app.store.db
              .selectFrom('events')
              .select('context')
              .where('action', '=', action)
              .orderBy('created', 'desc')
              .executeTakeFirstOrThrow()
          ).context,
        );
      const token = (await call(srv, 'GET', '/core/tokens/carol-own/')).body;
      const model = { app: 'authentik_core', model_name: 'token', pk: token.pk, name: 'carol-own' };
      assert.deepEqual((await last('secret_view')).secret, model);
      assert.deepEqual((await last('model_updated')).model, model);
    });

    it("app passwords: `expires` is capped by the user's maximum token lifetime (attribute, groups, else a day)", async () => {
      const hours = (h: number) => new Date(Date.now() + h * 3_600_000).toISOString();
      const message = /^Token expires exceeds maximum lifetime \(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\+00:00 UTC\)\.$/;
      const capped = await userWithKey(srv, 'dan', { 'goauthentik.io/user/token-maximum-lifetime': 'hours=2' });
      const plain = await userWithKey(srv, 'erin');
      const create = (user: number, identifier: string, expires?: string) =>
        call(srv, 'POST', '/core/tokens/', { identifier, intent: 'app_password', user, ...(expires ? { expires } : {}) });

      const tooLong = await create(capped.pk, 'dan-app-1', hours(3));
      assert.equal(tooLong.status, 400);
      assert.match(tooLong.body.expires[0], message);
      assert.deepEqual(Object.keys(tooLong.body), ['expires']);
      assert.equal(
        await srv.app.store.db.selectFrom('tokens').select('token_uuid').where('identifier', '=', 'dan-app-1').executeTakeFirst(),
        undefined,
      );
      assert.equal((await create(capped.pk, 'dan-app-1', hours(1))).status, 201);
      // without an expiry: the default (a day), never beyond the cap
      const dflt = await create(capped.pk, 'dan-app-2');
      assert.equal(dflt.status, 201);
      assert.ok(new Date(dflt.body.expires).getTime() <= Date.now() + 2 * 3_600_000);
      // the owner cannot push it out with PATCH or PUT either
      const asDan = as(srv, capped.key);
      const patch = await asDan('PATCH', '/core/tokens/dan-app-1/', { expires: hours(5) });
      assert.equal(patch.status, 400);
      assert.match(patch.body.expires[0], message);
      const put = await asDan('PUT', '/core/tokens/dan-app-1/', { identifier: 'dan-app-1', intent: 'app_password', expires: hours(5) });
      assert.equal(put.status, 400);
      assert.equal((await asDan('PATCH', '/core/tokens/dan-app-1/', { expires: hours(1.5) })).status, 200);

      // no attribute: the default duration, a day
      assert.equal((await create(plain.pk, 'erin-app-1', hours(30))).status, 400);
      const erinDefault = await create(plain.pk, 'erin-app-2');
      assert.equal(erinDefault.status, 201);
      assert.ok(Math.abs(new Date(erinDefault.body.expires).getTime() - (Date.now() + 24 * 3_600_000)) < 60_000);
      // a group's attribute counts; the user's own wins over it
      const group = randomUUID();
      await srv.app.store.db
        .insertInto('groups')
        .values({
          group_uuid: group,
          num_pk: 4242,
          name: 'long-tokens',
          is_superuser: 0,
          attributes: JSON.stringify({ 'goauthentik.io/user/token-maximum-lifetime': 'days=3' }),
        })
        .execute();
      assert.equal((await call(srv, 'PATCH', `/core/users/${plain.pk}/`, { groups: [group] })).status, 200);
      assert.equal((await call(srv, 'PATCH', `/core/users/${capped.pk}/`, { groups: [group] })).status, 200);
      assert.equal((await create(plain.pk, 'erin-app-3', hours(48))).status, 201);
      assert.equal((await create(capped.pk, 'dan-app-3', hours(48))).status, 400);
      // the brand's attributes count first (authentik's group_attributes(request)); the groups' and the user's win
      const brand = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0];
      const setBrand = (attributes: Record<string, unknown>) => call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { attributes });
      assert.equal((await setBrand({ 'goauthentik.io/user/token-maximum-lifetime': 'hours=4' })).status, 200);
      try {
        const fresh = await userWithKey(srv, 'fern');
        assert.equal((await create(fresh.pk, 'fern-app-1', hours(5))).status, 400, 'the brand caps it');
        assert.equal((await create(fresh.pk, 'fern-app-2', hours(3))).status, 201);
        assert.equal((await create(plain.pk, 'erin-app-4', hours(48))).status, 201, "the group's attribute wins over the brand's");
      } finally {
        await setBrand({});
      }
      // API tokens keep their server-set expiry
      const api = await call(srv, 'POST', '/core/tokens/', {
        identifier: 'dan-api-2',
        intent: 'api',
        user: capped.pk,
        expires: hours(500),
      });
      assert.equal(api.status, 201);
      assert.ok(new Date(api.body.expires).getTime() <= Date.now() + 24 * 3_600_000 + 1000);
    });

    it('the `token-expires` attribute rules PATCH and PUT as it rules create', async () => {
      const frank = await userWithKey(srv, 'frank');
      const asFrank = as(srv, frank.key);
      const created = await asFrank('POST', '/core/tokens/', { identifier: 'frank-own', intent: 'api', expiring: false });
      assert.equal(created.status, 201);
      assert.equal(created.body.expiring, true, 'create: the attribute (default true) wins');
      const patched = await asFrank('PATCH', '/core/tokens/frank-own/', { expiring: false });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.equal(patched.body.expiring, true, 'PATCH cannot make it non-expiring');
      const put = await asFrank('PUT', '/core/tokens/frank-own/', { identifier: 'frank-own', intent: 'api', expiring: false });
      assert.equal(put.status, 200, JSON.stringify(put.body));
      assert.equal(put.body.expiring, true, 'nor PUT');
      const row = await srv.app.store.db
        .selectFrom('tokens')
        .select('expiring')
        .where('identifier', '=', 'frank-own')
        .executeTakeFirstOrThrow();
      assert.equal(Number(row.expiring), 1);
      // a user whose attribute allows non-expiring tokens gets them; the admin may set either
      assert.equal(
        (await call(srv, 'PATCH', `/core/users/${frank.pk}/`, { attributes: { 'goauthentik.io/user/token-expires': false } })).status,
        200,
      );
      assert.equal((await as(srv, frank.key)('PATCH', '/core/tokens/frank-own/', { expiring: true })).body.expiring, false);
      assert.equal((await call(srv, 'PATCH', '/core/tokens/frank-own/', { expiring: true })).body.expiring, true);
    });
  });
}
