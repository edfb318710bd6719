/**
 * Password history (authentik's UserPasswordHistory, read by password uniqueness policies in
 * src/policies/unique_password/). Every time a user's password is set (src/users/store.ts) its new hash is recorded
 * — only while a uniqueness policy is bound somewhere, as authentik — and the user's history is cut to the largest
 * `num_historical_passwords` of those policies. A hash upgrade at login is not a password change and records
 * nothing (authentik's check_password setter sends no signal either).
 *
 * The policy type's settings table is read here by name: the domain knows the table, not the plug-in.
 */
import { sql } from 'kysely';
import type { Generated } from 'kysely';
import type { DB } from '../db/index.js';
import type { Tx } from '../rest/resource.js';
import { UNUSABLE_PREFIX } from './passwords.js';
import { liveBinding } from '../policies/bindings/expiry.js';

export interface UserPasswordHistoryTable {
  id: Generated<number>;
  user_id: number;
  /** the encoded hash (argon2id, or an imported Django hash) */
  old_password: string;
  created_at: string;
}

declare module '../db/types.js' {
  interface Database {
    user_password_history: UserPasswordHistoryTable;
  }
}

/** the password uniqueness policy's kind and settings table (src/policies/unique_password/schema.ts) */
export const UNIQUE_PASSWORD_KIND = 'uniquepasswordpolicy';
const UNIQUE_PASSWORD_TABLE = 'policy_unique_password';
/** a prompt stage's validation policies (src/stages/prompt/schema.ts): a policy there is in use too, as upstream */
const PROMPT_VALIDATION_TABLE = 'stage_prompt_validation_policies';

/**
 * How many passwords to keep per user: 0 when no uniqueness policy is in use — bound (enabled, unexpired) anywhere, or
 * among a prompt stage's validation policies (authentik's `is_in_use`) —, else the largest
 * `num_historical_passwords` of all of them (authentik's trim task keeps that many).
 */
async function historyDepth(db: DB | Tx): Promise<number> {
  const { rows } = await sql<{ inuse: number | string | null; depth: number | string | null }>`
    select
      (select count(*) from policy_bindings b join policies p on p.policy_uuid = b.policy
        where p.kind = ${UNIQUE_PASSWORD_KIND} and b.enabled = 1 and ${liveBinding('b')})
      + (select count(*) from ${sql.table(PROMPT_VALIDATION_TABLE)} v join policies p on p.policy_uuid = v.target
        where p.kind = ${UNIQUE_PASSWORD_KIND}) as inuse,
      (select max(t.num_historical_passwords) from ${sql.table(UNIQUE_PASSWORD_TABLE)} t) as depth`.execute(db);
  const r = rows[0];
  return r && Number(r.inuse) > 0 ? Number(r.depth ?? 0) : 0;
}

/** records a newly set password hash for the user (inside the transaction that sets it) and trims their history */
export async function recordPasswordHistory(tx: Tx, userId: number, encoded: string): Promise<void> {
  const depth = await historyDepth(tx);
  if (depth <= 0 || encoded.startsWith(UNUSABLE_PREFIX)) {
    if (depth <= 0) await tx.deleteFrom('user_password_history').where('user_id', '=', userId).execute();
    return;
  }
  await tx
    .insertInto('user_password_history')
    .values({ user_id: userId, old_password: encoded, created_at: new Date().toISOString() })
    .execute();
  await tx
    .deleteFrom('user_password_history')
    .where('user_id', '=', userId)
    .where(
      'id',
      'not in',
      tx
        .selectFrom('user_password_history')
        .select('id')
        .where('user_id', '=', userId)
        .orderBy('created_at', 'desc')
        .orderBy('id', 'desc')
        .limit(depth),
    )
    .execute();
}

/** the user's last `n` recorded hashes, newest first */
export async function passwordHistory(db: DB, userId: number, n: number): Promise<string[]> {
  if (n <= 0) return [];
  const rows = await db
    .selectFrom('user_password_history')
    .select('old_password')
    .where('user_id', '=', userId)
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(n)
    .execute();
  return rows.map((r) => r.old_password);
}

/** no uniqueness policy left at all: the whole history goes (authentik's check_and_purge_password_history) */
export async function purgeUnusedPasswordHistory(db: DB): Promise<number> {
  const any = await db.selectFrom('policies').select('policy_uuid').where('kind', '=', UNIQUE_PASSWORD_KIND).limit(1).executeTakeFirst();
  if (any) return 0;
  const r = await db.deleteFrom('user_password_history').executeTakeFirst();
  return Number(r.numDeletedRows);
}
