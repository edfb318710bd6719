/**
 * The grant tables' reads and writes. Codes, tokens and device codes are looked up by the SHA-256 of what the
 * client presents. The two races that matter are settled by the database, not by reading then writing:
 *
 * - a code is redeemed by `UPDATE … SET redeemed_at WHERE id = ? AND redeemed_at IS NULL` in the same transaction
 *   as the tokens it produces: of two nodes redeeming at once exactly one updates a row; the other finds the code
 *   redeemed and revokes whatever it produced (on PostgreSQL the second UPDATE waits for the first to commit, so
 *   it sees the tokens; SQLite runs the transactions one after the other);
 * - a refresh token is rotated by `UPDATE … SET revoked = 1 WHERE id = ? AND revoked = 0`, with the same shape.
 */
import { createHash } from 'node:crypto';
import type { Compilable, CompiledQuery, Selectable, Transaction } from 'kysely';
import { precompiled } from '../../../db/hot.js';
import type { DB } from '../../../db/index.js';
import type { Database } from '../../../db/types.js';
import type {} from './table.js';
import { deleteExpiredJtis } from './dpop-jti.js';

export const hashOf = (secret: string) => createHash('sha256').update(secret, 'utf8').digest('hex');

type Tx = Transaction<Database> | DB;

/**
 * A statement every grant runs, compiled once per database (kept by its adapter, which its transactions share) and
 * executed on it or one of its transactions with fresh parameters — the builder and compiler stay off the hot path.
 */
function compiledOnce<P extends Record<string, unknown>, R>(
  names: (keyof P & string)[],
  build: (db: Tx, p: Record<keyof P & string, any>) => Compilable<R>,
) {
  const made = new WeakMap<object, (params: P) => CompiledQuery<R>>();
  return (db: Tx, params: P) => {
    const key = db.getExecutor().adapter;
    let q = made.get(key);
    if (!q) made.set(key, (q = precompiled<P, R>(names, (p) => build(db, p)) as (params: P) => CompiledQuery<R>));
    return db.executeQuery<R>(q(params));
  };
}

/** the columns every grant has */
export interface GrantValues {
  provider_id: number;
  user_id: number;
  scope: string;
  auth_time: Date;
  session_id: string | null;
  expires: Date;
  /** DPoP: the thumbprint of the key it is bound to (absent: not bound) */
  dpop_jkt?: string | null;
}

const grantRow = (g: GrantValues, now: Date) => ({
  provider_id: g.provider_id,
  user_id: g.user_id,
  scope: g.scope,
  auth_time: g.auth_time.toISOString(),
  session_id: g.session_id,
  revoked: 0,
  expires: g.expires.toISOString(),
  expiring: 1,
  created: now.toISOString(),
  dpop_jkt: g.dpop_jkt ?? null,
});

// ---- authorization codes

export interface CodeValues extends GrantValues {
  code: string;
  nonce: string | null;
  code_challenge: string | null;
  code_challenge_method: string | null;
  redirect_uri: string;
  amr: string[] | null;
}

export async function insertCode(db: Tx, v: CodeValues, now = new Date()): Promise<number> {
  const row = await db
    .insertInto('oauth2_authorization_codes')
    .values({
      ...grantRow(v, now),
      code_hash: hashOf(v.code),
      nonce: v.nonce,
      code_challenge: v.code_challenge,
      code_challenge_method: v.code_challenge_method,
      redirect_uri: v.redirect_uri,
      amr: v.amr ? JSON.stringify(v.amr) : null,
      redeemed_at: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return Number(row.id);
}

export const findCode = (db: Tx, code: string) =>
  db.selectFrom('oauth2_authorization_codes').selectAll().where('code_hash', '=', hashOf(code)).executeTakeFirst();

export type CodeRow = NonNullable<Awaited<ReturnType<typeof findCode>>>;

/**
 * Redeem a code once: in one transaction, claim it and (only when this request claimed it) write what it produces.
 * Returns false when it had been redeemed already — the tokens that redemption produced are then revoked.
 */
export async function redeemCode(
  db: DB,
  codeId: number,
  produce: (tx: Transaction<Database>) => Promise<void>,
  now = new Date(),
): Promise<boolean> {
  const claimed = await db.transaction().execute(async (tx) => {
    const r = await tx
      .updateTable('oauth2_authorization_codes')
      .set({ redeemed_at: now.toISOString() })
      .where('id', '=', codeId)
      .where('redeemed_at', 'is', null)
      .where('revoked', '=', 0)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return false;
    await produce(tx);
    return true;
  });
  if (!claimed) await revokeCode(db, codeId);
  return claimed;
}

/** a code used twice: it and every token it produced are revoked (RFC 6749 §4.1.2) */
export async function revokeCode(db: DB, codeId: number): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.updateTable('oauth2_authorization_codes').set({ revoked: 1 }).where('id', '=', codeId).execute();
    await tx.updateTable('oauth2_access_tokens').set({ revoked: 1 }).where('code_id', '=', codeId).execute();
    await tx.updateTable('oauth2_refresh_tokens').set({ revoked: 1 }).where('code_id', '=', codeId).execute();
  });
}

// ---- access and refresh tokens

export interface TokenValues extends GrantValues {
  token: string;
  /** authentik's `_id_token` (serializeIdToken) */
  id_token: string;
  code_id: number | null;
}

const tokenRow = (v: TokenValues, now: Date) => ({
  ...grantRow(v, now),
  token_hash: hashOf(v.token),
  id_token: v.id_token,
  code_id: v.code_id,
});

const TOKEN_COLUMNS = [
  'provider_id',
  'user_id',
  'scope',
  'auth_time',
  'session_id',
  'revoked',
  'expires',
  'expiring',
  'created',
  'dpop_jkt',
  'token_hash',
  'id_token',
  'code_id',
] as const;
type TokenRow = ReturnType<typeof tokenRow>;

const insertToken = (table: 'oauth2_access_tokens' | 'oauth2_refresh_tokens') =>
  compiledOnce<TokenRow, { id: number }>([...TOKEN_COLUMNS], (db, p) => db.insertInto(table).values(p).returning('id'));
const insertAccess = insertToken('oauth2_access_tokens');
const insertRefresh = insertToken('oauth2_refresh_tokens');

export async function insertAccessToken(db: Tx, v: TokenValues, now = new Date()): Promise<number> {
  return Number((await insertAccess(db, tokenRow(v, now))).rows[0]!.id);
}

export async function insertRefreshToken(db: Tx, v: TokenValues, now = new Date()): Promise<number> {
  return Number((await insertRefresh(db, tokenRow(v, now))).rows[0]!.id);
}

const selectAccess = compiledOnce<{ hash: string }, Selectable<Database['oauth2_access_tokens']>>(['hash'], (db, p) =>
  db.selectFrom('oauth2_access_tokens').selectAll().where('token_hash', '=', p.hash),
);
const selectRefresh = compiledOnce<{ hash: string }, Selectable<Database['oauth2_refresh_tokens']>>(['hash'], (db, p) =>
  db.selectFrom('oauth2_refresh_tokens').selectAll().where('token_hash', '=', p.hash),
);

export const findAccessToken = async (db: Tx, token: string) => (await selectAccess(db, { hash: hashOf(token) })).rows[0];

export type AccessTokenRow = NonNullable<Awaited<ReturnType<typeof findAccessToken>>>;

export const findRefreshToken = async (db: Tx, token: string) => (await selectRefresh(db, { hash: hashOf(token) })).rows[0];

export type RefreshTokenRow = NonNullable<Awaited<ReturnType<typeof findRefreshToken>>>;

const revokeRefresh = compiledOnce<{ id: number }, unknown>(['id'], (db, p) =>
  db.updateTable('oauth2_refresh_tokens').set({ revoked: 1 }).where('id', '=', p.id).where('revoked', '=', 0),
);

/**
 * Use a refresh token once: in one transaction, revoke it (only if nobody did yet) and write its successors.
 * False when it was revoked already (used before, or revoked): nothing is written.
 */
export async function rotateRefreshToken(db: DB, id: number, produce: (tx: Transaction<Database>) => Promise<void>): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const r = await revokeRefresh(tx, { id });
    if (Number(r.numAffectedRows ?? 0) !== 1) return false;
    await produce(tx);
    return true;
  });
}

/** is a grant row usable now? (not revoked, not expired) */
export const isLive = (row: { revoked: number | boolean; expires: string; expiring: number | boolean }, now = new Date()) =>
  !row.revoked && (!row.expiring || new Date(row.expires).getTime() > now.getTime());

/** the revocation endpoint: the access or refresh token of this provider with this value, deleted (authentik deletes it) */
export async function deleteToken(db: DB, providerId: number, token: string): Promise<boolean> {
  const h = hashOf(token);
  const a = await db
    .deleteFrom('oauth2_access_tokens')
    .where('token_hash', '=', h)
    .where('provider_id', '=', providerId)
    .executeTakeFirst();
  if (Number(a.numDeletedRows) > 0) return true;
  const r = await db
    .deleteFrom('oauth2_refresh_tokens')
    .where('token_hash', '=', h)
    .where('provider_id', '=', providerId)
    .executeTakeFirst();
  return Number(r.numDeletedRows) > 0;
}

/** a session ended: its access tokens go with it (authentik's CASCADE); refresh tokens outlive it */
export async function deleteSessionTokens(db: DB, sessionId: string): Promise<void> {
  await db.deleteFrom('oauth2_access_tokens').where('session_id', '=', sessionId).execute();
  await db.deleteFrom('oauth2_authorization_codes').where('session_id', '=', sessionId).execute();
}

/** housekeeping: grants past their expiry (codes kept a day after, so a late second redemption still revokes) */
export async function deleteExpired(db: DB, now = new Date()): Promise<void> {
  const iso = now.toISOString();
  await deleteExpiredJtis(db, now);
  const dayAgo = new Date(now.getTime() - 86_400_000).toISOString();
  await db.deleteFrom('oauth2_access_tokens').where('expiring', '=', 1).where('expires', '<', iso).execute();
  await db.deleteFrom('oauth2_refresh_tokens').where('expiring', '=', 1).where('expires', '<', iso).execute();
  await db.deleteFrom('oauth2_device_tokens').where('expiring', '=', 1).where('expires', '<', iso).execute();
  await db.deleteFrom('oauth2_authorization_codes').where('expiring', '=', 1).where('expires', '<', dayAgo).execute();
}
