/**
 * Password authentication against the backends a password stage lists, with equal cost for unknown users
 * (a dummy argon2id verification) and transparent re-hashing of imported or outdated hashes.
 */
import { sql } from 'kysely';
import { hashKey } from '../api/auth.js';
import { hot, type Hot } from '../db/hot.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../flows/runtime.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';

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
    .where('key_hash', '=', hashKey(password))
    .where((eb) => eb.or([eb('expiring', '=', 0), eb('expires', '>', now)]))
    .executeTakeFirst();
  return row && user.is_active ? user : undefined;
}

const byUsername = new WeakMap<Services['db'], Hot<{ username: string }, UsersTable>>();

/** Tries each backend in order with the user's username; undefined when none accepts. */
export async function authenticatePassword(svc: Services, username: string, password: string, backends: string[]): Promise<Authenticated | undefined> {
  let q = byUsername.get(svc.db);
  if (!q) byUsername.set(svc.db, (q = hot<{ username: string }, UsersTable>(svc.db, ['username'], (p) => svc.db.selectFrom('users').selectAll().where('username', '=', p.username))));
  const [user] = await q({ username });
  for (const backend of backends) {
    const ok =
      backend === INBUILT_BACKEND ? await inbuilt(svc, user, password) : backend === TOKEN_BACKEND ? await appPassword(svc, user, password) : undefined;
    if (ok) return { user: ok, backend };
  }
  return undefined;
}

/** Users matching an identifier on any of `fields` (username, email, upn), first match wins. Inactive users are found. */
/** the lookup for one stage setting (fields × case), compiled once per database */
const lookups = new WeakMap<Services['db'], Map<string, Hot<{ v: string }, UsersTable>>>();
function userLookup(svc: Services, fields: string[], caseInsensitive: boolean): Hot<{ v: string }, UsersTable> {
  let byKey = lookups.get(svc.db);
  if (!byKey) lookups.set(svc.db, (byKey = new Map()));
  const key = `${caseInsensitive ? 'i' : 's'}:${fields.join(',')}`;
  let q = byKey.get(key);
  if (!q) {
    const col = (c: string) => {
      const expr = c === 'upn' ? (svc.dialect === 'postgres' ? sql`(attributes::jsonb ->> 'upn')` : sql`json_extract(attributes, '$.upn')`) : sql.ref(c);
      return caseInsensitive ? sql`lower(${expr})` : expr;
    };
    q = hot<{ v: string }, UsersTable>(svc.db, ['v'], (p) =>
      svc.db
        .selectFrom('users')
        .selectAll()
        .where((eb) => eb.or(fields.map((f) => eb(col(f), '=', p.v))))
        .orderBy('id')
        .limit(10),
    );
    byKey.set(key, q);
  }
  return q;
}

export async function findUser(svc: Services, fields: string[], value: string, caseInsensitive: boolean): Promise<UsersTable | undefined> {
  if (!fields.length || value === '') return undefined;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const rows = await userLookup(svc, fields, caseInsensitive)({ v });
  // first match in field order
  for (const f of fields)
    for (const r of rows) {
      const got = f === 'upn' ? String((JSON.parse(r.attributes || '{}') as Record<string, unknown>).upn ?? '') : String(r[f as 'username' | 'email']);
      if ((caseInsensitive ? got.toLowerCase() : got) === v) return r;
    }
  return undefined;
}
