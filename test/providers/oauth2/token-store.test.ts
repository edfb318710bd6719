/**
 * The grant tables (provider_oauth2_0002) and their races, on SQLite and PostgreSQL: values are stored only as
 * hashes; a code is redeemed once even when several requests (on PostgreSQL: two nodes, two connection pools)
 * redeem it at the same moment, and the loser revokes what the winner produced; a refresh token rotates once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore, type Store } from '../../../src/db/index.js';
import { migrate } from '../../../src/db/migrate.js';
import { providerMigrations } from '../../../src/providers/registry.js';
import {
  deleteToken,
  findAccessToken,
  findCode,
  findRefreshToken,
  hashOf,
  insertAccessToken,
  insertCode,
  insertRefreshToken,
  isLive,
  redeemCode,
  rotateRefreshToken,
} from '../../../src/providers/oauth2/tokens/store.js';
import { dialects, freshDatabase } from '../../helpers/server.js';

for (const dialect of dialects()) {
  describe(`OAuth2 grant tables (${dialect})`, () => {
    let fresh: Awaited<ReturnType<typeof freshDatabase>>;
    let store: Store;
    let other: Store;
    let userId: number;
    const open = () =>
      openStore({ databaseUrl: fresh.overrides.databaseUrl ?? undefined, sqlitePath: fresh.overrides.sqlitePath ?? '', poolSize: 4 });

    before(async () => {
      fresh = await freshDatabase(dialect);
      store = await open();
      await migrate(store, providerMigrations());
      // a second node on the same database (PostgreSQL); SQLite has one
      other = dialect === 'postgres' ? await open() : store;
      const now = new Date().toISOString();
      await store.db
        .insertInto('providers')
        .values({
          id: 1,
          name: 'p1',
          kind: 'oauth2provider',
          authentication_flow: null,
          authorization_flow: null,
          invalidation_flow: null,
          created: now,
          last_updated: now,
        })
        .execute();
      const u = await store.db
        .insertInto('users')
        .values({
          uuid: crypto.randomUUID(),
          username: 'u1',
          name: 'U',
          email: 'u@example.com',
          password: '',
          is_active: 1,
          last_login: null,
          date_joined: new Date().toISOString(),
          path: 'users',
          type: 'internal',
          attributes: '{}',
          password_change_date: new Date().toISOString(),
          last_updated: new Date().toISOString(),
        } as any)
        .returning('id')
        .executeTakeFirstOrThrow();
      userId = Number(u.id);
    });
    after(async () => {
      if (other !== store) await other.close();
      await store.close();
      await fresh.drop();
    });

    const grant = () => ({
      provider_id: 1,
      user_id: userId,
      scope: 'openid offline_access',
      auth_time: new Date(),
      session_id: hashOf('session'),
      expires: new Date(Date.now() + 60_000),
    });
    const code = (value: string) => ({
      ...grant(),
      code: value,
      nonce: 'n',
      code_challenge: null,
      code_challenge_method: null,
      redirect_uri: 'http://rp/cb',
      amr: ['pwd'],
    });

    it('stores hashes only, finds by the presented value', async () => {
      const id = await insertCode(store.db, code('the-code'));
      const row = await findCode(store.db, 'the-code');
      assert.equal(row?.id, id);
      assert.equal(row?.code_hash, hashOf('the-code'));
      assert.equal(JSON.stringify(row).includes('the-code'), false);
      assert.equal(await findCode(store.db, 'other'), undefined);
      const at = await insertAccessToken(store.db, { ...grant(), token: 'a.b.c', id_token: '{}', code_id: null });
      assert.equal((await findAccessToken(store.db, 'a.b.c'))?.id, at);
      assert.ok(isLive((await findAccessToken(store.db, 'a.b.c'))!));
      assert.equal(isLive({ revoked: 0, expiring: 1, expires: new Date(Date.now() - 1).toISOString() }), false);
      assert.equal(isLive({ revoked: 0, expiring: 0, expires: new Date(0).toISOString() }), true);
      assert.equal(isLive({ revoked: 1, expiring: 1, expires: new Date(Date.now() + 1000).toISOString() }), false);
    });

    it('a code is redeemed once across nodes; the second redemption revokes what the first produced', async () => {
      const id = await insertCode(store.db, code('raced-code'));
      let n = 0;
      const attempt = (s: Store) =>
        redeemCode(s.db, id, async (tx) => {
          const k = ++n;
          await insertAccessToken(tx, { ...grant(), token: `at-${k}`, id_token: '{}', code_id: id });
          await insertRefreshToken(tx, { ...grant(), token: `rt-${k}`, id_token: '{}', code_id: id });
        });
      const results = await Promise.all([attempt(store), attempt(other), attempt(store), attempt(other)]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(n, 1);
      const access = await findAccessToken(store.db, 'at-1');
      const refresh = await findRefreshToken(store.db, 'rt-1');
      assert.equal(access?.revoked ? 1 : 0, 1);
      assert.equal(refresh?.revoked ? 1 : 0, 1);
      const row = await findCode(store.db, 'raced-code');
      assert.ok(row?.redeemed_at);
      assert.equal(row?.revoked ? 1 : 0, 1);
    });

    it('a single redemption keeps its tokens', async () => {
      const id = await insertCode(store.db, code('once'));
      assert.equal(
        await redeemCode(store.db, id, (tx) =>
          insertAccessToken(tx, { ...grant(), token: 'kept', id_token: '{}', code_id: id }).then(() => {}),
        ),
        true,
      );
      assert.ok(isLive((await findAccessToken(store.db, 'kept'))!));
    });

    it('a refresh token rotates once, whoever asks at the same time', async () => {
      const id = await insertRefreshToken(store.db, { ...grant(), token: 'refresh-1', id_token: '{}', code_id: null });
      let n = 0;
      const attempt = (s: Store) =>
        rotateRefreshToken(s.db, id, async (tx) => {
          n++;
          await insertRefreshToken(tx, { ...grant(), token: `refresh-next-${n}`, id_token: '{}', code_id: null });
        });
      const results = await Promise.all([attempt(store), attempt(other), attempt(store)]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(n, 1);
      assert.equal((await findRefreshToken(store.db, 'refresh-1'))?.revoked ? 1 : 0, 1);
      assert.ok(isLive((await findRefreshToken(store.db, 'refresh-next-1'))!));
    });

    it('revocation deletes the provider’s token only', async () => {
      await insertAccessToken(store.db, { ...grant(), token: 'to-revoke', id_token: '{}', code_id: null });
      assert.equal(await deleteToken(store.db, 2, 'to-revoke'), false);
      assert.equal(await deleteToken(store.db, 1, 'to-revoke'), true);
      assert.equal(await findAccessToken(store.db, 'to-revoke'), undefined);
    });

    it('tokens without a code or a session are left out of those indexes, and the lookups by code and session use them', async () => {
      for (const t of ['oauth2_access_tokens', 'oauth2_refresh_tokens']) {
        for (const [index, column] of [
          [`${t}_code`, 'code_id'],
          [`${t}_session`, 'session_id'],
        ]) {
          if (dialect === 'sqlite') {
            const { rows } = await sql<{ sql: string }>`select sql from sqlite_master where name = ${index}`.execute(store.db);
            assert.match(rows[0]!.sql, new RegExp(`where "?${column}"? is not null`, 'i'));
            const plan = await sql<{
              detail: string;
            }>`explain query plan select id from ${sql.table(t)} where ${sql.ref(column)} = ${1}`.execute(store.db);
            assert.ok(
              plan.rows.some((r) => r.detail.includes(index)),
              JSON.stringify(plan.rows),
            );
          } else {
            const { rows } = await sql<{ indexdef: string }>`select indexdef from pg_indexes where indexname = ${index}`.execute(store.db);
            assert.match(rows[0]!.indexdef, new RegExp(`WHERE \\(${column} IS NOT NULL\\)`));
            const plan = await store.db.transaction().execute(async (tx) => {
              await sql`set local enable_seqscan = off`.execute(tx);
              return sql<{ 'QUERY PLAN': string }>`explain select id from ${sql.table(t)} where ${sql.ref(column)} = ${'1'}`.execute(tx);
            });
            assert.ok(
              plan.rows.some((r) => r['QUERY PLAN'].includes(index)),
              JSON.stringify(plan.rows),
            );
          }
        }
      }
    });
  });
}
