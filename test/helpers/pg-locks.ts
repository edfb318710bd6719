/**
 * Deterministic interleavings on PostgreSQL: a test holds rows in a transaction of its own (a `pg.Client`), starts a
 * request, and waits until that request waits for one of those locks before letting go.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';

/** true once some statement of the database waits for a lock (bounded: false after `ms`) */
export async function untilSomeoneWaits(client: pg.Client, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    const r = await client.query('select count(*) as n from pg_locks where not granted');
    if (Number(r.rows[0].n) > 0) return true;
    if (Date.now() > end) return false;
    await sleep(25);
  }
}
