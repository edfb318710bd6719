/**
 * A DPoP proof is used once (RFC 9449 §11.1), across all nodes: its `jti` is claimed by an INSERT of its SHA-256
 * (per client key, so two clients' proofs cannot collide) that only one request can make; the row lives for the
 * replay window (two minutes, as authentik's default, covering the proofs' one-minute clock skew both ways), then the
 * grant sweep removes it.
 */
import { createHash } from 'node:crypto';
import type { DB } from '../../../db/index.js';

export const DPOP_REPLAY_WINDOW_MS = 120_000;

declare module '../../../db/types.js' {
  interface Database {
    oauth2_dpop_jtis: { jti_hash: string; expires: string };
  }
}

/** true when this request is the proof's first use */
export async function claimJti(db: DB, jkt: string, jti: string, now = new Date()): Promise<boolean> {
  const jti_hash = createHash('sha256').update(`${jkt}:${jti}`, 'utf8').digest('hex');
  const r = await db
    .insertInto('oauth2_dpop_jtis')
    .values({ jti_hash, expires: new Date(now.getTime() + DPOP_REPLAY_WINDOW_MS).toISOString() })
    .onConflict((oc) => oc.column('jti_hash').doNothing())
    .returning('jti_hash')
    .executeTakeFirst();
  return r !== undefined;
}

export async function deleteExpiredJtis(db: DB, now = new Date()): Promise<void> {
  await db.deleteFrom('oauth2_dpop_jtis').where('expires', '<', now.toISOString()).execute();
}
