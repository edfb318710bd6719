/** User writes: creation with memberships, password changes (which end the user's other sessions). */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../rest/resource.js';
import { apiToRow, nowIso } from '../rest/serialize.js';
import { ValidationError } from '../rest/errors.js';
import { unusablePassword } from '../auth/passwords.js';
import { recordPasswordHistory } from '../auth/password-history.js';
import { userProps } from './schema.js';

export function validatePath(path: string | undefined) {
  if (path === undefined) return;
  if (path.startsWith('/') || path.endsWith('/')) throw ValidationError.field('path', 'No leading or trailing slashes allowed.');
  if (path.split('/').some((s) => s === '')) throw ValidationError.field('path', 'No empty segments in user path allowed.');
}

export async function writeMemberships(tx: Tx, userId: number, data: Record<string, unknown>) {
  if (Array.isArray(data.groups)) {
    await tx.deleteFrom('user_groups').where('user_id', '=', userId).execute();
    // (a member added at the same time by a writer without the admin-write lock — add_user, a source's login — stays)
    for (const g of new Set(data.groups as string[]))
      await tx
        .insertInto('user_groups')
        .values({ user_id: userId, group_uuid: g })
        .onConflict((oc) => oc.columns(['user_id', 'group_uuid']).doNothing())
        .execute();
  }
  if (Array.isArray(data.roles)) {
    await tx.deleteFrom('user_roles').where('user_id', '=', userId).execute();
    for (const r of new Set(data.roles as string[]))
      await tx
        .insertInto('user_roles')
        .values({ user_id: userId, role_uuid: r })
        .onConflict((oc) => oc.columns(['user_id', 'role_uuid']).doNothing())
        .execute();
  }
}

export async function insertUser(tx: Tx, data: Record<string, unknown>, password?: string): Promise<number> {
  const now = nowIso();
  const values = {
    uuid: randomUUID(),
    password: password ?? unusablePassword(),
    date_joined: now,
    password_change_date: now,
    last_updated: now,
    name: '',
    email: '',
    is_active: 1,
    last_login: null,
    path: 'users',
    type: 'internal',
    attributes: '{}',
    ...apiToRow(userProps, data),
  };
  const row = await tx
    .insertInto('users')
    .values(values as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  await writeMemberships(tx, row.id, data);
  if (password !== undefined) await recordPasswordHistory(tx, row.id, password);
  return row.id;
}

/**
 * Every place that sets a user's password goes through here (not the transparent re-hash at login): the change date
 * moves (remembered MFA checks are bound to it), the hash joins the password history (while a uniqueness policy is
 * bound) and the user's sessions end — all but `keepSession`, the caller's own when they set their own password —
 * as Django's session hash check does when the stored hash changes. Returns the ended sessions' keys: the caller tells
 * `Sessions.endedAll` once the transaction committed (what they signed into ends with them).
 */
export async function setUserPassword(tx: Tx, userId: number, encoded: string, keepSession?: string): Promise<string[]> {
  const now = nowIso();
  await tx.updateTable('users').set({ password: encoded, password_change_date: now, last_updated: now }).where('id', '=', userId).execute();
  await recordPasswordHistory(tx, userId, encoded);
  return deleteSessionsOf(tx, userId, keepSession);
}

/** the user's sessions deleted (all but `keepSession`); their keys, for `Sessions.endedAll` after the commit */
export async function deleteSessionsOf(tx: Tx, userId: number, keepSession?: string): Promise<string[]> {
  let q = tx.deleteFrom('sessions').where('user_id', '=', userId);
  if (keepSession) q = q.where('session_key', '<>', keepSession);
  return (await q.returning('session_key').execute()).map((r) => r.session_key);
}

/**
 * Django's set_unusable_password (a password expiry policy's doing): the password no longer works, its change date
 * stays, nothing joins the history, and the user's sessions end as for any change of the stored hash.
 */
export async function markPasswordUnusable(tx: Tx, userId: number): Promise<string[]> {
  await tx.updateTable('users').set({ password: unusablePassword(), last_updated: nowIso() }).where('id', '=', userId).execute();
  return deleteSessionsOf(tx, userId);
}
