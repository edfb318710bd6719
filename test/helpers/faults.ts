/**
 * A failure injected in the database itself (not in Keystage's code): a trigger that refuses one kind of write, so a
 * test can show that a request failing half-way leaves nothing of its other writes behind.
 */
import { sql } from 'kysely';
import type { DialectName, TestServer } from './server.js';

/**
 * Every UPDATE of `table` whose `column` changes fails with "injected failure" until the returned function is called.
 * `where` narrows it to some rows (SQL over NEW/OLD, e.g. `OLD.username = 'erin'`).
 */
export async function failUpdatesOf(
  srv: TestServer,
  dialect: DialectName,
  table: string,
  column: string,
  where = '1 = 1',
): Promise<() => Promise<void>> {
  const db = srv.app.store.db;
  const name = `ks_test_fault_${table}_${column}`;
  if (dialect === 'sqlite') {
    await sql
      .raw(
        `create trigger ${name} before update of ${column} on ${table} when NEW.${column} is not OLD.${column} and (${where}) ` +
          `begin select raise(abort, 'injected failure'); end`,
      )
      .execute(db);
    return async () => void (await sql.raw(`drop trigger ${name}`).execute(db));
  }
  await sql
    .raw(
      `create function ${name}() returns trigger language plpgsql as $$ begin ` +
        `if NEW.${column} is distinct from OLD.${column} and (${where}) then raise exception 'injected failure'; end if; ` +
        'return NEW; end $$',
    )
    .execute(db);
  await sql.raw(`create trigger ${name} before update on ${table} for each row execute function ${name}()`).execute(db);
  return async () => {
    await sql.raw(`drop trigger ${name} on ${table}`).execute(db);
    await sql.raw(`drop function ${name}()`).execute(db);
  };
}

/** Every INSERT into (or DELETE from) `table` fails with "injected failure" until the returned function is called. */
export async function failWritesOf(
  srv: TestServer,
  dialect: DialectName,
  table: string,
  op: 'insert' | 'delete',
): Promise<() => Promise<void>> {
  const db = srv.app.store.db;
  const name = `ks_test_fault_${op}_${table}`;
  if (dialect === 'sqlite') {
    await sql.raw(`create trigger ${name} before ${op} on ${table} begin select raise(abort, 'injected failure'); end`).execute(db);
    return async () => void (await sql.raw(`drop trigger ${name}`).execute(db));
  }
  await sql
    .raw(`create function ${name}() returns trigger language plpgsql as $$ begin raise exception 'injected failure'; end $$`)
    .execute(db);
  await sql.raw(`create trigger ${name} before ${op} on ${table} for each row execute function ${name}()`).execute(db);
  return async () => {
    await sql.raw(`drop trigger ${name} on ${table}`).execute(db);
    await sql.raw(`drop function ${name}()`).execute(db);
  };
}
