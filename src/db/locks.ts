/**
 * Locks a transaction holds until it ends, for writes whose checks must still hold when they commit. On PostgreSQL
 * they are real locks; SQLite's one writer already holds the whole database for the transaction, so they are no-ops.
 */
import { sql, type Transaction } from 'kysely';
import type { Database } from './types.js';
import { dialectOf } from './dialect.js';

/** transactions naming the same `key` go one after the other (an advisory lock), on every node */
export async function takeTurn(tx: Transaction<Database>, key: string): Promise<void> {
  if (dialectOf(tx) === 'postgres') await sql`select pg_advisory_xact_lock(hashtext(${key}))`.execute(tx);
}

/**
 * `q` locking the rows it reads until the transaction ends: `update` (nobody else changes or deletes them) or
 * `key share` (nobody deletes them, or changes their key; others may still read and update them)
 */
export function holding<Q extends { forUpdate(): Q; forKeyShare(): Q }>(tx: Transaction<Database>, q: Q, mode: 'update' | 'key share'): Q {
  if (dialectOf(tx) !== 'postgres') return q;
  return mode === 'update' ? q.forUpdate() : q.forKeyShare();
}
