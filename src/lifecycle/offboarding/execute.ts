/**
 * Executing one user offboarding (authentik's `execute_offboarding` and `offboard_user`), in two transactions so that
 * the providers the user's sessions signed into are told (a session's listeners read what it issued, which revoking
 * the tokens then deletes):
 *
 * 1. the cut — the offboarding, still pending and due, is marked under way (`started_at`: no longer cancellable), the
 *    user deactivated (for a deletion too, so that a failure after this leaves them unable to log in) and their
 *    sessions deleted when `revoke_sessions` (always for a deletion: they go with the user); then each ended session's
 *    listeners are told (back-channel logout, the session's OAuth2 tokens);
 * 2. the finish — the offboarding moved from pending to completed (one UPDATE: of two nodes running it, one finishes),
 *    the user's tokens revoked when `revoke_tokens` (src/users/revocation.ts), the `user_offboarded` event written for
 *    who scheduled it (never the offboarded user), and for `delete` the user deleted (their offboardings go with them,
 *    as authentik's cascade); then, as authentik, what was issued meanwhile is swept.
 *
 * A failure rolls its transaction back; the attempt is counted, and at MAX_ATTEMPTS the offboarding is `failed` (the
 * user as the failure left them). Running it again once completed, failed or cancelled does nothing.
 */
import type { DB } from '../../db/index.js';
import { deleteEventsOfUser } from '../../events/events.js';
import { systemSettings } from '../../instance/system-settings/store.js';
import { nowIso } from '../../rest/serialize.js';
import type { Services } from '../../services.js';
import { deleteAccess, sweepAccess } from '../../users/revocation.js';
import { sql } from 'kysely';
import { lockConfigEpoch } from '../../db/config-epoch.js';

/** authentik's MAX_OFFBOARDING_ATTEMPTS */
export const MAX_ATTEMPTS = 5;

/** `completed`: this run completed it; `skipped`: not pending and due (done, cancelled, failed, gone or not yet due) */
export async function executeOffboarding(svc: Services, id: string): Promise<'completed' | 'skipped'> {
  try {
    return await execute(svc, id);
  } catch (e) {
    await countFailure(svc.db, id);
    throw e;
  }
}

async function execute(svc: Services, id: string): Promise<'completed' | 'skipped'> {
  const db = svc.db;
  const ended = async (keys: string[], userId: number) => {
    for (const key of keys) await svc.sessions.ended(key, { userId, by: 'policy' });
  };
  const cut = await db.transaction().execute(async (tx) => {
    const now = nowIso();
    const row = await tx
      .updateTable('user_offboardings')
      .set({ started_at: sql<string>`coalesce(started_at, ${now})` })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('scheduled_at', '<=', now)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    await tx.updateTable('users').set({ is_active: 0, last_updated: now }).where('id', '=', row.user_id).execute();
    const revoked = await deleteAccess(tx, row.user_id, { sessions: !!row.revoke_sessions || row.action === 'delete', tokens: false });
    return { row, sessions: revoked.sessions };
  });
  if (!cut) return 'skipped';
  await ended(cut.sessions, cut.row.user_id);

  const { row } = cut;
  const user = await db.selectFrom('users').select(['id', 'username']).where('id', '=', row.user_id).executeTakeFirst();
  const initiator = row.created_by
    ? await db.selectFrom('users').select(['id', 'username', 'email']).where('id', '=', row.created_by).executeTakeFirst()
    : undefined;
  const { gdpr_compliance } = await systemSettings(db);
  const finished = await db.transaction().execute(async (tx) => {
    // (a user's, group's or token's deletion reaches configuration tables through their foreign keys: the admin-write lock first)
    await lockConfigEpoch(tx);
    const done = await tx
      .updateTable('user_offboardings')
      .set({ status: 'completed', executed_at: nowIso() })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) !== 1) return false;
    if (row.revoke_tokens) await deleteAccess(tx, row.user_id, { sessions: false, tokens: true });
    await svc.events.emit(
      'user_offboarded',
      {
        user: initiator ? { pk: initiator.id, username: initiator.username, email: initiator.email } : null,
        context: {
          message: `User ${user?.username ?? row.user_id} was offboarded (${row.action})`,
          offboarding_action: row.action,
          revoke_sessions: !!row.revoke_sessions,
          revoke_tokens: !!row.revoke_tokens,
          user_pk: row.user_id,
        },
      },
      tx,
    );
    if (row.action === 'delete') {
      if (gdpr_compliance) await deleteEventsOfUser(tx, row.user_id);
      await tx.deleteFrom('users').where('id', '=', row.user_id).execute();
    }
    return true;
  });
  if (!finished) return 'skipped';
  if (row.action === 'deactivate')
    await sweepAccess(db, row.user_id, { sessions: !!row.revoke_sessions, tokens: !!row.revoke_tokens }, (keys) =>
      ended(keys, row.user_id),
    );
  return 'completed';
}

/** a failed run counted; the offboarding `failed` once it has failed MAX_ATTEMPTS times (if still pending) */
async function countFailure(db: DB, id: string): Promise<void> {
  await db
    .updateTable('user_offboardings')
    .set({ attempts: sql<number>`attempts + 1` })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .execute();
  await db
    .updateTable('user_offboardings')
    .set({ status: 'failed', executed_at: nowIso() })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('attempts', '>=', MAX_ATTEMPTS)
    .execute();
}

/** the pending offboardings whose time has come */
export async function dueOffboardings(db: DB): Promise<string[]> {
  const rows = await db
    .selectFrom('user_offboardings')
    .select('id')
    .where('status', '=', 'pending')
    .where('scheduled_at', '<=', nowIso())
    .orderBy('scheduled_at')
    .execute();
  return rows.map((r) => r.id);
}
