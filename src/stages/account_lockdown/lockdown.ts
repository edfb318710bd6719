/**
 * What an account lockdown does to one user (authentik's AccountLockdownStageView `_lockdown_user`), each part as the
 * stage is configured, in this order:
 *
 * 1. one transaction: the account deactivated, its password made unusable, its sessions deleted (their keys kept);
 * 2. each deleted session ends as a logout from elsewhere does (`Sessions.ended`): providers are told (back-channel
 *    logout) and what was issued in it ends — which needs the session's OAuth2 tokens still to exist, hence after 1;
 * 3. one transaction: every token of the user deleted (src/users/revocation.ts says which);
 * 4. as authentik, sessions and tokens are looked for again and deleted until a look finds none (a request that was
 *    issuing one with a stolen credential while 1–3 ran: `sweepAccess`).
 */
import type { DB } from '../../db/index.js';
import { unusablePassword } from '../../auth/passwords.js';
import { deleteAccess, sweepAccess } from '../../users/revocation.js';

export interface LockdownActions {
  deactivate_user: boolean;
  set_unusable_password: boolean;
  delete_sessions: boolean;
  revoke_tokens: boolean;
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
    return (await deleteAccess(tx, userId, { sessions: a.delete_sessions, tokens: false })).sessions;
  });
  if (sessions.length) await ended(sessions);
  await sweepAccess(db, userId, { sessions: a.delete_sessions, tokens: a.revoke_tokens }, ended);
}
