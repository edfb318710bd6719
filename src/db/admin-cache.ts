/**
 * Data that only admin writes change — flows, their bindings, stage configurations, the counts and ordered keys of
 * stage lists — kept in memory until the next admin write. A login reads its flow and each stage's configuration
 * on every one of its seven requests, and every page of a stage list counts the same rows (10,000 stages: about
 * 4 ms in SQLite).
 *
 * SQLite only: one process serves the database, and it forgets everything after each admin write request it
 * answers (`invalidate`, from the server's onSend hook: any method but GET/HEAD/OPTIONS outside the flow executor,
 * whose stages never write these tables) and whenever another connection committed (`PRAGMA data_version`).
 * With PostgreSQL several nodes write, so every request reads the database.
 */
import type { DB } from './index.js';

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

export class AdminCache {
  private version = 0;
  private seenExternal: number;
  private cachedAt = 0;
  private checkedAt = -Infinity;
  private readonly entries = new Map<string, unknown>();
  /** large values (a list's ordered keys), fewer of them */
  private readonly bulky = new Map<string, unknown>();

  constructor(
    /** changes when another connection commits */
    private readonly externalVersion: () => number,
    private readonly max = 2000,
    private readonly maxBulky = 8,
  ) {
    this.seenExternal = externalVersion();
  }

  /** forget everything (after each admin write) */
  invalidate(): void {
    this.version++;
  }

  private current(): number {
    // another connection's commit is looked for at most once a millisecond (a statement of its own each time)
    const now = performance.now();
    if (now - this.checkedAt >= 1) {
      this.checkedAt = now;
      const external = this.externalVersion();
      if (external !== this.seenExternal) {
        this.seenExternal = external;
        this.version++;
      }
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

/** `load()` through the database's admin cache when it has one (SQLite), else straight; `bulky` for large values */
export function cachedAdminData<T>(db: DB, key: string, load: () => Promise<T>, bulky = false): Promise<T> {
  const cache = caches.get(db);
  return cache ? cache.get(key, load, bulky) : load();
}

export const hasAdminCache = (db: DB): boolean => caches.has(db);
