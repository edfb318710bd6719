/**
 * What an account lockdown does to one user (authentik's AccountLockdownStageView `_lockdown_user`), each part as the
 * stage is configured, in this order:
 *
 * 1. one transaction: the account deactivated, its password made unusable, its sessions deleted (their keys kept);
 * 2. each deleted session ends as a logout from elsewhere does (`Sessions.ended`): providers are told (back-channel
 *    logout) and what was issued in it ends — which needs the session's OAuth2 tokens still to exist, hence after 1;
 * 3. one transaction: every token of the user deleted — API tokens and app passwords, recovery and verification links
 *    (flow tokens), and each provider type's grants (OAuth2 codes, access, refresh and device tokens);
 * 4. as authentik, sessions and tokens are looked for again and deleted until a look finds none (a request that was
 *    issuing one with a stolen credential while 1–3 ran), at most MAX_SWEEPS times.
 */
import type { DB } from '../../db/index.js';
import { unusablePassword } from '../../auth/passwords.js';
import { providerUserGrantTables } from '../../providers/registry.js';

export interface LockdownActions {
  deactivate_user: boolean;
  set_unusable_password: boolean;
  delete_sessions: boolean;
  revoke_tokens: boolean;
}

const MAX_SWEEPS = 5;

/** the tables whose rows are the user's tokens, each with a `user_id` column */
const tokenTables = () => ['tokens', 'flow_tokens', ...providerUserGrantTables()];

/** deletes the user's sessions and/or tokens; the ended sessions' keys */
async function sweep(db: DB, userId: number, a: LockdownActions): Promise<{ sessions: string[]; tokens: number }> {
  return db.transaction().execute(async (tx) => {
    const sessions = a.delete_sessions
      ? (await tx.deleteFrom('sessions').where('user_id', '=', userId).returning('session_key').execute()).map((r) => r.session_key)
      : [];
    let tokens = 0;
    if (a.revoke_tokens)
      for (const table of tokenTables()) {
        const r = await tx
          .deleteFrom(table as 'tokens')
          .where('user_id', '=', userId)
          .executeTakeFirst();
        tokens += Number(r.numDeletedRows);
      }
    return { sessions, tokens };
  });
}

/**
 * Locks `userId` down; `ended` is told each session this deleted (the stage ends the request's own session itself,
 * clearing its cookies, and tells the rest to the sessions' listeners).
 */
export async function lockDown(db: DB, userId: number, a: LockdownActions, ended: (keys: string[]) => Promise<void>): Promise<void> {
  const now = new Date().toISOString();
  const sessions = await db.transaction().execute(async (tx) => {
    if (a.deactivate_user || a.set_unusable_password)
      await tx
        .updateTable('users')
        .set({
          ...(a.deactivate_user ? { is_active: 0 } : {}),
          ...(a.set_unusable_password ? { password: unusablePassword() } : {}),
          last_updated: now,
        })
        .where('id', '=', userId)
        .execute();
    return a.delete_sessions
      ? (await tx.deleteFrom('sessions').where('user_id', '=', userId).returning('session_key').execute()).map((r) => r.session_key)
      : [];
  });
  if (sessions.length) await ended(sessions);
  if (!a.delete_sessions && !a.revoke_tokens) return;
  for (let i = 0; i < MAX_SWEEPS; i++) {
    const r = await sweep(db, userId, a);
    if (!r.sessions.length && !r.tokens) return;
    await ended(r.sessions);
  }
}
