/**
 * Revoking a user's access (authentik's `revoke_user_access`, shared by account lockdown and user offboarding so the
 * two never differ on what it means): their sessions, and every token-like credential — API tokens and app
 * passwords, recovery and verification links (flow tokens), and each provider type's grants (OAuth2 codes, access,
 * refresh and device tokens).
 */
import type { DB } from '../db/index.js';
import { providerUserGrantTables } from '../providers/registry.js';
import { lockConfigEpoch } from '../db/config-epoch.js';

export interface Revocation {
  sessions: boolean;
  tokens: boolean;
}

/** looks after the first, at most */
const MAX_SWEEPS = 5;

/** the tables whose rows are the user's tokens, each with a `user_id` column */
const tokenTables = () => ['tokens', 'flow_tokens', ...providerUserGrantTables()];

/** in `tx`: the user's sessions and/or tokens deleted; the deleted sessions' keys, and how many tokens went */
export async function deleteAccess(tx: DB, userId: number, r: Revocation): Promise<{ sessions: string[]; tokens: number }> {
  const sessions = r.sessions
    ? (await tx.deleteFrom('sessions').where('user_id', '=', userId).returning('session_key').execute()).map((s) => s.session_key)
    : [];
  let tokens = 0;
  if (r.tokens)
    for (const table of tokenTables()) {
      const d = await tx
        .deleteFrom(table as 'tokens')
        .where('user_id', '=', userId)
        .executeTakeFirst();
      tokens += Number(d.numDeletedRows);
    }
  return { sessions, tokens };
}

/**
 * As authentik, after a revocation: the user's sessions and tokens looked for again and deleted (each look one
 * transaction) until a look finds none — a credential being issued, with one being revoked, while the revocation ran —
 * at most MAX_SWEEPS times; `ended` is told the keys of the sessions each look deleted.
 */
export async function sweepAccess(db: DB, userId: number, r: Revocation, ended: (keys: string[]) => Promise<void>): Promise<void> {
  if (!r.sessions && !r.tokens) return;
  for (let i = 0; i < MAX_SWEEPS; i++) {
    const found = await db.transaction().execute(async (tx) => {
      // (a token's deletion reaches a configuration table through a foreign key: the admin-write lock first)
      if (r.tokens) await lockConfigEpoch(tx);
      return deleteAccess(tx, userId, r);
    });
    if (!found.sessions.length && !found.tokens) return;
    await ended(found.sessions);
  }
}
