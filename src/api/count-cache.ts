/**
 * Counts of stage lists, kept until the next write. Counting a filtered stage list joins every stage of its type
 * (10,000 stages: 10,000 index probes, about 4 ms in SQLite), and every page of the list asks for the same count.
 *
 * SQLite only: one process serves it, and that process forgets every count after each write request it answers
 * (`invalidate`, from the server's onSend hook) and whenever another connection committed (`PRAGMA data_version`).
 * Stage tables are written only by admin API writes. With PostgreSQL several nodes write, so every page counts.
 */
import type { DB } from '../db/index.js';

export class CountCache {
  private version = 0;
  private seen: number;
  private readonly counts = new Map<string, number>();

  constructor(
    /** changes when another connection commits */
    private readonly externalVersion: () => number,
    private readonly max = 256,
  ) {
    this.seen = externalVersion();
  }

  /** forget every count (after each write request) */
  invalidate(): void {
    this.version++;
    this.counts.clear();
  }

  async count(key: string, run: () => Promise<number>): Promise<number> {
    const external = this.externalVersion();
    if (external !== this.seen) {
      this.seen = external;
      this.invalidate();
    }
    const hit = this.counts.get(key);
    if (hit !== undefined) return hit;
    const version = this.version;
    const n = await run();
    // a write that finished while counting makes this count unsafe to keep
    if (version === this.version && external === this.externalVersion()) {
      if (this.counts.size >= this.max) this.counts.delete(this.counts.keys().next().value!);
      this.counts.set(key, n);
    }
    return n;
  }
}

const caches = new WeakMap<DB, CountCache>();

export function attachCountCache(db: DB, cache: CountCache): void {
  caches.set(db, cache);
}

/** the database's count cache, when it has one (SQLite) */
export const countCacheOf = (db: DB): CountCache | undefined => caches.get(db);
