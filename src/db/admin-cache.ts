/**
 * Data that only admin writes change — flows, their bindings, stage configurations, the counts and ordered keys of
 * stage lists — kept in memory until the next admin write. A login reads its flow and each stage's configuration
 * on every one of its seven requests, and every page of a stage list counts the same rows (10,000 stages: about
 * 4 ms in SQLite).
 *
 * A node forgets everything after each admin write request it answers (`invalidate`, from the server's onSend
 * hook: any method but GET/HEAD/OPTIONS outside the flow executor, whose stages never write these tables), and when
 * someone else changed the database:
 * - SQLite: one process serves the file; another connection's commit shows in `PRAGMA data_version`, looked at
 *   (`poll`) at most once a millisecond.
 * - PostgreSQL: several nodes write; every request first reads the configuration epoch (`refresh`, config-epoch.ts),
 *   which triggers advance in the transaction of every write to the configuration tables. Until a read succeeds
 *   (at start, or after the database was unreachable) nothing is kept or served.
 */
import type { DB } from './types.js';

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

/** how a cache learns of other writers: a cheap synchronous poll (SQLite), or a read once per request (PostgreSQL) */
export type ExternalVersion = { poll: () => number } | { read: () => Promise<number | undefined> };

export class AdminCache {
  private version = 0;
  private seenExternal: number | undefined;
  private cachedAt = 0;
  private checkedAt = -Infinity;
  private readonly entries = new Map<string, unknown>();
  /** large values (a list's ordered keys), fewer of them */
  private readonly bulky = new Map<string, unknown>();

  constructor(
    private readonly external: ExternalVersion,
    private readonly max = 2000,
    private readonly maxBulky = 8,
  ) {
    if ('poll' in external) this.seenExternal = external.poll();
  }

  /** PostgreSQL: whether the configuration epoch is read per request (`refresh`, or `observe` of a read made elsewhere) */
  get readsEpoch(): boolean {
    return 'read' in this.external;
  }

  /**
   * PostgreSQL: read the configuration epoch for the request about to run (SQLite: nothing to do). When the read
   * fails (the database is unreachable) nothing kept is trusted until one succeeds, and the error is the request's.
   */
  async refresh(): Promise<void> {
    if (!('read' in this.external)) return;
    let epoch: number | undefined;
    try {
      epoch = await this.external.read();
    } finally {
      this.observe(epoch);
    }
  }

  /** another writer's version as last read (PostgreSQL's epoch, SQLite's data_version; undefined: unreadable) */
  observe(epoch: number | undefined): void {
    if (epoch !== this.seenExternal) {
      this.seenExternal = epoch;
      this.version++;
    }
  }

  /** forget everything (after each admin write) */
  invalidate(): void {
    this.version++;
  }

  /** how many times what was kept has been forgotten (or another writer seen) so far */
  get generation(): number {
    return this.version;
  }

  private current(): number {
    // another connection's commit is looked for at most once a millisecond (a statement of its own each time)
    const now = performance.now();
    if ('poll' in this.external && now - this.checkedAt >= 1) {
      this.checkedAt = now;
      this.observe(this.external.poll());
    }
    if (this.cachedAt !== this.version) {
      this.entries.clear();
      this.bulky.clear();
      this.cachedAt = this.version;
    }
    return this.version;
  }

  /** the kept value for `key`, else `load()`'s (kept, deeply frozen, unless a write happened meanwhile) */
  async get<T>(key: string, load: () => Promise<T>, bulky = false): Promise<T> {
    if (this.seenExternal === undefined) return load();
    const version = this.current();
    const map = bulky ? this.bulky : this.entries;
    if (map.has(key)) return map.get(key) as T;
    const value = deepFreeze(await load());
    if (this.current() === version) {
      if (map.size >= (bulky ? this.maxBulky : this.max)) map.delete(map.keys().next().value!);
      map.set(key, value);
    }
    return value;
  }
}

const caches = new WeakMap<DB, AdminCache>();

export function attachAdminCache(db: DB, cache: AdminCache): void {
  caches.set(db, cache);
}

/** `load()` through the database's admin cache when it has one, else straight; `bulky` for large values */
export function cachedAdminData<T>(db: DB, key: string, load: () => Promise<T>, bulky = false): Promise<T> {
  const cache = caches.get(db);
  return cache ? cache.get(key, load, bulky) : load();
}

export const hasAdminCache = (db: DB): boolean => caches.has(db);

/**
 * PostgreSQL: read the configuration epoch now, for work that runs outside an HTTP request (whose hook reads it):
 * a scheduled task, the TLS listener's certificates for the next handshakes. SQLite: nothing to do.
 */
export async function refreshAdminCache(db: DB): Promise<void> {
  await caches.get(db)?.refresh();
}

/** this node forgets what it kept (a write outside an admin request: the OAuth2 provider learning a redirect URI) */
export function invalidateAdminCache(db: DB): void {
  caches.get(db)?.invalidate();
}
