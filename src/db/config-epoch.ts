/**
 * PostgreSQL: the configuration epoch, so that several nodes may keep flows, bindings and stage settings in memory
 * (admin-cache.ts) and still apply a change at once everywhere. A statement-level trigger on every configuration
 * table adds one to a single counter inside the writing transaction, so the new value is visible exactly when the
 * change is; each request reads the counter once (`readConfigEpoch`) and a node forgets what it kept when it moved.
 * This covers every writer: the API on any node, a script, psql.
 */
import type SQLite from 'better-sqlite3';
import { sql, type Transaction } from 'kysely';
import type { Database, DB } from './types.js';
import { dialectOf } from './dialect.js';

/** the tables whose rows the admin cache keeps, directly or inside a stage's settings */
export const isConfigTable = (name: string): boolean =>
  name.startsWith('stage_') ||
  name.startsWith('policy_') ||
  name.startsWith('crypto_') ||
  name.startsWith('provider_') ||
  name.startsWith('property_mapping') ||
  CONFIG_TABLES.has(name);
const CONFIG_TABLES = new Set([
  'flows',
  'flow_bindings',
  'stages',
  'sources',
  'webauthn_device_types',
  'policies',
  'providers',
  'applications',
  'application_backchannel_providers',
  'brands',
  'brand_client_certificates',
  'notification_transports',
  'notification_rules',
  'notification_rule_transports',
  'instance_settings',
]);

export const EPOCH_TRIGGER = 'keystage_config_epoch';

/**
 * SQLite: one process owns the file, and another connection's commit shows in `PRAGMA data_version` — but not this
 * connection's own. Writes made outside an admin request (a blueprint file applied by discovery, a user deleted by a
 * flow or a sync, which takes their policy bindings along) would leave the admin cache stale. So every configuration
 * table gets TEMP triggers — this connection's only, never stored in the file, so no other program writing the file
 * needs the function — that call `changed` for each row written, inside the writing transaction: what a read loads
 * meanwhile is not kept (admin-cache.ts), and a rolled-back write costs one needless reload.
 */
export function watchSqliteConfigWrites(sqlite: SQLite.Database, changed: () => void): void {
  sqlite.function('keystage_config_changed', { deterministic: false }, () => {
    changed();
    return null;
  });
  const tables = sqlite.prepare(`select name from main.sqlite_master where type = 'table'`).pluck().all() as string[];
  for (const t of tables.filter(isConfigTable))
    for (const op of ['insert', 'update', 'delete'])
      sqlite.exec(
        `create temp trigger if not exists "${EPOCH_TRIGGER}_${t}_${op}" after ${op} on main."${t}" begin select keystage_config_changed(); end`,
      );
}

/**
 * Puts the trigger on every configuration table that lacks it — run after the migrations at every start, so a
 * stage type's table added later is covered without a migration of its own. Nodes starting together take turns
 * (an advisory lock).
 */
export async function ensureConfigTriggers(db: DB): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await sql`select pg_advisory_xact_lock(hashtext(${EPOCH_TRIGGER}))`.execute(trx);
    // the counter's row, should someone have deleted it (until then every node reads everything afresh)
    await sql`insert into keystage_config_epoch (id, epoch) values (1, 0) on conflict (id) do nothing`.execute(trx);
    const { rows } = await sql<{ name: string; has: boolean }>`
      select c.relname as name,
             exists (select 1 from pg_trigger t where t.tgrelid = c.oid and t.tgname = ${EPOCH_TRIGGER}) as has
      from pg_class c where c.relkind = 'r' and c.relnamespace = current_schema()::regnamespace`.execute(trx);
    for (const t of rows)
      if (isConfigTable(t.name) && !t.has)
        await sql`create trigger ${sql.id(EPOCH_TRIGGER)} after insert or update or delete or truncate on ${sql.table(t.name)}
                  for each statement execute function keystage_config_changed()`.execute(trx);
  });
}

/** the epoch; undefined when its row is gone (then nothing is kept until a start puts it back) */
export async function readConfigEpoch(db: DB): Promise<number | undefined> {
  const { rows } = await sql<{ epoch: number | string }>`select epoch from keystage_config_epoch where id = 1`.execute(db);
  return rows[0] ? Number(rows[0].epoch) : undefined;
}

/**
 * The first statement of an admin write's transaction (PostgreSQL): takes the counter's row lock before any other
 * row, so two admin writes never wait for each other in opposite orders (the trigger takes it again, harmlessly).
 */
export async function lockConfigEpoch(trx: Transaction<Database>): Promise<void> {
  if (dialectOf(trx) === 'postgres') await sql`select epoch from keystage_config_epoch where id = 1 for update`.execute(trx);
}
