/**
 * Writes outgoing sync providers do not push one by one (authentik's `sync_outgoing_inhibit_dispatch`): a source's
 * sync whose `sync_outgoing_trigger_mode` is not `immediate` makes its changes in transactions that hold a row of
 * `outgoing_sync_inhibits` until just before they commit. The SCIM provider's triggers queue nothing while they see
 * such a row, and only the transaction that wrote it sees it (PostgreSQL's snapshots; SQLite has one writer at a time).
 */
import { randomUUID } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DB } from './index.js';
import type { Database } from './types.js';

declare module './types.js' {
  interface Database {
    outgoing_sync_inhibits: { marker: string };
  }
}

type Tx = Transaction<Database>;

/** `fn` in a transaction; when `inhibit`, its writes are not queued for outgoing sync providers */
export async function writeInhibiting<T>(db: DB, inhibit: boolean, fn: (tx: Tx) => Promise<T>): Promise<T> {
  return db.transaction().execute(async (tx) => {
    if (!inhibit) return fn(tx);
    const marker = randomUUID();
    await tx.insertInto('outgoing_sync_inhibits').values({ marker }).execute();
    const out = await fn(tx);
    await tx.deleteFrom('outgoing_sync_inhibits').where('marker', '=', marker).execute();
    return out;
  });
}
