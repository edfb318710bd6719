import fs from 'node:fs';
import path from 'node:path';
import SQLite from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect } from 'kysely';
import type { Database, DB, Dialect } from './types.js';
import { AdminCache, attachAdminCache } from './admin-cache.js';
import { readConfigEpoch, watchSqliteConfigWrites } from './config-epoch.js';
import { preparingClient, StatementNames } from './pg-prepared.js';
import { checkpointOffThread } from './sqlite-checkpoint.js';

export type { DB, Dialect };

export interface Store {
  db: DB;
  dialect: Dialect;
  /** answers true when the database accepts a trivial query */
  ping(): Promise<boolean>;
  poolStats(): { total: number; idle: number; waiting: number };
  /** flows, bindings, stage configurations and stage-list counts kept until the next admin write (admin-cache.ts) */
  adminCache: AdminCache;
  /**
   * SQLite: after the migrations, have this process's own writes to the configuration tables empty the admin cache
   * (`PRAGMA data_version` moves only for other connections' commits; config-epoch.ts `watchSqliteConfigWrites`)
   */
  watchConfigWrites?(): void;
  close(): Promise<void>;
}

/**
 * Kysely prepares every statement anew; better-sqlite3 statements are reusable, so keep the prepared statement of
 * each distinct SQL text (bounded). This halves the cost of a small query.
 */
function withStatementCache(sqlite: SQLite.Database, max = 1000): SQLite.Database {
  const cache = new Map<string, SQLite.Statement>();
  const prepare = sqlite.prepare.bind(sqlite);
  return new Proxy(sqlite, {
    get(target, prop, receiver) {
      if (prop === 'prepare')
        return (source: string) => {
          let stmt = cache.get(source);
          if (!stmt) {
            stmt = prepare(source);
            if (cache.size >= max) cache.delete(cache.keys().next().value!);
            cache.set(source, stmt);
          }
          return stmt;
        };
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

/** Opens the database. PostgreSQL's driver is loaded only when a PostgreSQL URL is configured. */
export async function openStore(opts: {
  databaseUrl?: string;
  sqlitePath: string;
  /** MiB of the SQLite file read through a memory map (default 256) */
  sqliteMmapMiB?: number;
  poolSize?: number;
  /** told when SQLite's checkpoints fall back onto the server's own connection (sqlite-checkpoint.ts) */
  warn?: (message: string) => void;
}): Promise<Store> {
  if (opts.databaseUrl) {
    const pg = (await import('pg')).default;
    // int8 (count(*)) comes back as a string from pg; every count here fits in a double.
    pg.types.setTypeParser(20, (v: string) => Number(v));
    // a bounded connect time: an unreachable database fails requests (503) instead of hanging them
    // named prepared statements: each text parsed once per connection (pg-prepared.ts)
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: opts.poolSize ?? 10,
      connectionTimeoutMillis: 5000,
      Client: preparingClient(pg.Client, new StatementNames()),
    });
    // an idle client losing its connection must not crash the process
    pool.on('error', () => {});
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    const adminCache = new AdminCache({ read: () => readConfigEpoch(db) });
    attachAdminCache(db, adminCache);
    return {
      db,
      dialect: 'postgres',
      adminCache,
      async ping() {
        try {
          await pool.query('select 1');
          return true;
        } catch {
          return false;
        }
      },
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      close: () => db.destroy(),
    };
  }
  if (opts.sqlitePath !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(opts.sqlitePath)), { recursive: true });
  const sqlite = new SQLite(opts.sqlitePath);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  // reads straight from the mapped file instead of a read() and a copy per page (KEYSTAGE_SQLITE_MMAP_MIB; 0: no map)
  sqlite.pragma(`mmap_size = ${Math.max(0, Math.floor(opts.sqliteMmapMiB ?? 256)) * 1024 * 1024}`);
  // planner statistics for the tables that need them (SQLite's advice for long-lived connections); bounded work
  sqlite.pragma('analysis_limit = 400');
  sqlite.pragma('optimize = 0x10002');
  const optimizer = setInterval(() => sqlite.pragma('optimize'), 3_600_000).unref();
  // WAL checkpoints in a worker thread of their own, not inside a request's commit
  const checkpoints = opts.sqlitePath === ':memory:' ? undefined : checkpointOffThread(sqlite, path.resolve(opts.sqlitePath), opts.warn);
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: withStatementCache(sqlite) }) });
  const dataVersion = sqlite.prepare('pragma data_version').pluck();
  const adminCache = new AdminCache({ poll: () => dataVersion.get() as number });
  attachAdminCache(db, adminCache);
  return {
    db,
    dialect: 'sqlite',
    watchConfigWrites: () => watchSqliteConfigWrites(sqlite, () => adminCache.invalidate()),
    async ping() {
      try {
        sqlite.prepare('select 1').get();
        return true;
      } catch {
        return false;
      }
    },
    poolStats: () => ({ total: 1, idle: 1, waiting: 0 }),
    adminCache,
    close: async () => {
      clearInterval(optimizer);
      await checkpoints?.stop();
      return db.destroy();
    },
  };
}
