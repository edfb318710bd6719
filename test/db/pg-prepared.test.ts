/**
 * PostgreSQL: each SQL text that runs again becomes a named prepared statement of the connection
 * (src/db/pg-prepared.ts); DDL and one-off texts never do, the names are bounded, and a schema change under a
 * prepared statement does not break the node. Only with KEYSTAGE_TEST_DATABASE_URL.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/db/index.js';
import { StatementNames } from '../../src/db/pg-prepared.js';
import { freshDatabase } from '../helpers/server.js';
import { describePostgres } from '../helpers/postgres.js';

it('names a DML text the second time it runs, never DDL or several statements, and at most `max` texts', () => {
  const names = new StatementNames(2);
  assert.equal(names.nameOf('select 1'), undefined, 'the first time');
  assert.equal(names.nameOf('select 1'), 'ks0');
  assert.equal(names.nameOf('select 1'), 'ks0', 'the same name ever after');
  for (const ddl of ['create table t (a int)', 'alter table t add column b int', 'begin', 'commit', 'select 1; select 2']) {
    names.nameOf(ddl);
    assert.equal(names.nameOf(ddl), undefined, ddl);
  }
  names.nameOf('update t set a = $1');
  assert.equal(names.nameOf('update t set a = $1'), 'ks1');
  names.nameOf('delete from t');
  assert.equal(names.nameOf('delete from t'), undefined, 'past the bound, texts run unnamed');
  assert.equal(names.size, 2);
});

describePostgres('PostgreSQL: named prepared statements', 'prepared statements are a PostgreSQL connection feature', () => {
  let store: Store;
  let drop: () => Promise<void>;
  let other: pg.Client;
  const prepared = async () =>
    (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements order by name`.execute(store.db))
      .rows;

  before(async () => {
    const fresh = await freshDatabase('postgres');
    drop = fresh.drop;
    // one connection, so every query below runs on the same backend
    store = await openStore({ databaseUrl: fresh.overrides.databaseUrl, sqlitePath: ':memory:', poolSize: 1 });
    other = new pg.Client({ connectionString: fresh.overrides.databaseUrl });
    await other.connect();
    await sql`create table if not exists things (id integer primary key, name text not null)`.execute(store.db);
    await sql`create table if not exists things (id integer primary key, name text not null)`.execute(store.db);
    await store.db
      .insertInto('things' as never)
      .values({ id: 1, name: 'one' } as never)
      .execute();
  });
  after(async () => {
    await other?.end();
    await store?.close();
    await drop?.();
  });

  /** the one query both cases run again and again */
  const read = () =>
    store.db
      .selectFrom('things' as never)
      .selectAll()
      .where('id' as never, '=', 1 as never)
      .execute();

  it('a query run again is prepared once on the connection and answers the same', async () => {
    assert.deepEqual(await read(), [{ id: 1, name: 'one' }]);
    const text = 'select * from "things" where "id" = $1';
    assert.ok(!(await prepared()).some((p) => p.statement === text), 'not after its first run');
    for (let i = 0; i < 3; i++) assert.deepEqual(await read(), [{ id: 1, name: 'one' }]);
    const mine = (await prepared()).filter((p) => p.statement === text);
    assert.equal(mine.length, 1, 'one prepared statement for the text');
    assert.match(mine[0]!.name, /^ks\d+$/);
    assert.ok(!(await prepared()).some((p) => /create table/i.test(p.statement)), 'DDL is never prepared');
  });

  it('a column added by another connection: the next query sees it (prepared again under a new name)', async () => {
    await read();
    await read();
    await other.query(`alter table things add column note text not null default 'n'`);
    assert.deepEqual(await read(), [{ id: 1, name: 'one', note: 'n' }]);
    assert.deepEqual(await read(), [{ id: 1, name: 'one', note: 'n' }]);
    const text = 'select * from "things" where "id" = $1';
    assert.ok(
      (await prepared()).some((p) => p.statement === text && /^ks\d+_1$/.test(p.name)),
      'the statement prepared again under its second name',
    );
  });

  it('inside a transaction the change fails that transaction only; the next one runs', async () => {
    const read = (db: typeof store.db) =>
      db
        .selectFrom('things' as never)
        .selectAll()
        .where('id' as never, '=', 1 as never)
        .execute();
    await read(store.db);
    await other.query(`alter table things add column extra integer not null default 7`);
    let failed = false;
    try {
      await store.db.transaction().execute(async (trx) => {
        await read(trx);
      });
    } catch (e) {
      failed = true;
      assert.match(String(e), /cached plan must not change result type/);
    }
    assert.ok(failed, 'the transaction that met the stale statement failed (it cannot be retried inside)');
    const rows = await store.db.transaction().execute((trx) => read(trx));
    assert.deepEqual(rows, [{ id: 1, name: 'one', note: 'n', extra: 7 }]);
  });
});
