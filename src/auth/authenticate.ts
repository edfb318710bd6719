/**
 * Password authentication against the backends a password stage lists, with equal cost for unknown users
 * (a dummy argon2id verification) and transparent re-hashing of imported or outdated hashes.
 */
import { sql } from 'kysely';
import { hot, perDatabase, type Hot } from '../db/hot.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../flows/engine/runtime.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';
import { secretsOf } from '../instance/secrets.js';

export const INBUILT_BACKEND = 'authentik.core.auth.InbuiltBackend';
export const TOKEN_BACKEND = 'authentik.core.auth.TokenBackend';

export interface Authenticated {
  user: UsersTable;
  backend: string;
}

async function inbuilt(svc: Services, user: UsersTable | undefined, password: string): Promise<UsersTable | undefined> {
  const p = svc.config.argon2;
  const encoded = user?.password ?? (await dummyHash(p));
  const r = await verifyPassword(encoded, password, p);
  if (!user || !r.ok || !user.is_active) return undefined;
  if (r.needsRehash) {
    const fresh = await hashPassword(password, p);
    await svc.db.updateTable('users').set({ password: fresh }).where('id', '=', user.id).execute();
  }
  return user;
}

async function appPassword(svc: Services, user: UsersTable | undefined, password: string): Promise<UsersTable | undefined> {
  if (!user) {
    await verifyPassword(await dummyHash(svc.config.argon2), password, svc.config.argon2);
    return undefined;
  }
  const now = new Date().toISOString();
  const row = await svc.db
    .selectFrom('tokens')
    .select('token_uuid')
    .where('user_id', '=', user.id)
    .where('intent', '=', 'app_password')
    .where('key_hash', '=', secretsOf(svc.db).lookupHash(password))
    .where((eb) => eb.or([eb('expiring', '=', 0), eb('expires', '>', now)]))
    .executeTakeFirst();
  return row && user.is_active ? user : undefined;
}

const byUsername = perDatabase((db) =>
  hot<{ username: string }, UsersTable>(db, ['username'], (p) => db.selectFrom('users').selectAll().where('username', '=', p.username)),
);

/** Tries each backend in order with the user's username; undefined when none accepts. */
export async function authenticatePassword(
  svc: Services,
  username: string,
  password: string,
  backends: string[],
): Promise<Authenticated | undefined> {
  const [user] = await byUsername(svc.db)({ username });
  for (const backend of backends) {
    const ok =
      backend === INBUILT_BACKEND
        ? await inbuilt(svc, user, password)
        : backend === TOKEN_BACKEND
          ? await appPassword(svc, user, password)
          : undefined;
    if (ok) return { user: ok, backend };
  }
  return undefined;
}

/** the lookup of one field (username, email, upn), exact or case-insensitive, compiled once per database */
const lookups = perDatabase(() => new Map<string, Hot<{ v: string }, UsersTable>>());
function fieldLookup(svc: Services, field: string, caseInsensitive: boolean): Hot<{ v: string }, UsersTable> {
  const byKey = lookups(svc.db);
  const key = `${caseInsensitive ? 'i' : 's'}:${field}`;
  let q = byKey.get(key);
  if (!q) {
    const expr =
      field === 'upn'
        ? svc.dialect === 'postgres'
          ? sql`(attributes::jsonb ->> 'upn')`
          : sql`json_extract(attributes, '$.upn')`
        : sql.ref(field);
    const col = caseInsensitive ? sql`lower(${expr})` : expr;
    q = hot<{ v: string }, UsersTable>(svc.db, ['v'], (p) =>
      svc.db.selectFrom('users').selectAll().where(col, '=', p.v).orderBy('id').limit(1),
    );
    byKey.set(key, q);
  }
  return q;
}

/**
 * The user an identifier names on any of `fields` (username, email, upn): the first field in order that matches,
 * the oldest user on ties. Inactive users are found. Every field is looked up, found or not, so the work does not
 * depend on whether (or how) the identifier matches; one indexed lookup per field is cheaper than one query
 * OR-ing them (SQLite merges the two indexes and sorts).
 */
export async function findUser(svc: Services, fields: string[], value: string, caseInsensitive: boolean): Promise<UsersTable | undefined> {
  if (!fields.length || value === '') return undefined;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const found = await Promise.all(fields.map((f) => fieldLookup(svc, f, caseInsensitive)({ v })));
  return found.find((rows) => rows.length > 0)?.[0];
}
