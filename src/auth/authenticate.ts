/**
 * Password authentication against the backends a password stage lists, with equal cost for unknown users
 * (a dummy argon2id verification) and transparent re-hashing of imported or outdated hashes.
 */
import { sql } from 'kysely';
import { hot, perDatabase, type Hot } from '../db/hot.js';
import { attributeText } from '../db/dialect.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../flows/engine/runtime.js';
import type { FlowContext } from '../flows/engine/context.js';
import { dummyHash, hashPassword, verifyPassword } from './passwords.js';
import { secretsOf } from '../instance/secrets.js';
import { LDAP_BACKEND, ldapAuthenticate } from '../sources/ldap/password.js';
import { setUserPassword } from '../users/store.js';

export const INBUILT_BACKEND = 'authentik.core.auth.InbuiltBackend';
export const TOKEN_BACKEND = 'authentik.core.auth.TokenBackend';

export interface Authenticated {
  user: UsersTable;
  backend: string;
  /** authentik's `set_method`: the login's `auth_method` and its arguments, when the backend names them (LDAP) */
  method?: { name: string; args: Record<string, unknown> };
}

async function inbuilt(svc: Services, user: UsersTable | undefined, password: string): Promise<UsersTable | undefined> {
  const p = svc.config.argon2;
  const encoded = user?.password ?? (await dummyHash(p));
  const r = await verifyPassword(encoded, password, p);
  if (!user || !r.ok || !user.is_active) return undefined;
  if (r.needsRehash) {
    const fresh = await hashPassword(password, p);
    // only over the hash this login checked: a password changed meanwhile (by its owner, an administrator) is not
    // put back to the old one, and this login, which proved only the old one, fails
    const done = await svc.db
      .updateTable('users')
      .set({ password: fresh })
      .where('id', '=', user.id)
      .where('password', '=', encoded)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) === 0) return undefined;
    // the row as it now stands (a flow's later stages are handed this row, not a second read of it)
    return { ...user, password: fresh };
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

/**
 * authentik's LDAPBackend: a bind as the user's DN; with the source's `password_login_update_internal_password`, the
 * password becomes the stored one too — only when it is not already (so each LDAP login does not end the person's
 * other sessions, as a password change does)
 */
async function ldap(svc: Services, user: UsersTable | undefined, password: string): Promise<Authenticated | undefined> {
  const r = await ldapAuthenticate(svc, user, password);
  if (!r) return undefined;
  const method = {
    name: 'ldap',
    args: { source: { app: 'authentik_sources_ldap', model_name: 'ldapsource', pk: r.source.source_uuid, name: r.source.name } },
  };
  if (r.source.password_login_update_internal_password && !(await verifyPassword(r.user.password, password, svc.config.argon2)).ok) {
    const fresh = await hashPassword(password, svc.config.argon2);
    const ended = await svc.db.transaction().execute((tx) => setUserPassword(tx, r.user.id, fresh));
    await svc.sessions.endedAll(ended, { userId: r.user.id, by: 'system' });
    await svc.signals.credentialChanged({ userId: r.user.id, credentialType: 'password', changeType: 'update' });
    return { user: { ...r.user, password: fresh }, backend: LDAP_BACKEND, method };
  }
  return { user: r.user, backend: LDAP_BACKEND, method };
}

const byUsername = perDatabase((db) =>
  hot<{ username: string }, UsersTable>(db, ['username'], (p) => db.selectFrom('users').selectAll().where('username', '=', p.username)),
);

/**
 * what a passed password check leaves in the flow's context: the backend, and authentik's `auth_method` (with its
 * arguments: an LDAP login names its source) unless an earlier stage set one
 */
export function noteAuthentication(ctx: Pick<FlowContext, 'userBackend' | 'authMethod' | 'authMethodArgs'>, auth: Authenticated) {
  ctx.userBackend = auth.backend;
  if (ctx.authMethod !== undefined) return;
  ctx.authMethod = auth.method?.name ?? (auth.backend === TOKEN_BACKEND ? 'token' : 'password');
  if (auth.method) ctx.authMethodArgs = { ...ctx.authMethodArgs, ...auth.method.args };
}

/** Tries each backend in order with the user's username; undefined when none accepts. */
export async function authenticatePassword(
  svc: Services,
  username: string,
  password: string,
  backends: string[],
): Promise<Authenticated | undefined> {
  const [user] = await byUsername(svc.db)({ username });
  for (const backend of backends) {
    if (backend === LDAP_BACKEND) {
      const r = await ldap(svc, user, password);
      if (r) return r;
      continue;
    }
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

/** a field's value as compared (username, email, upn), exact or lower-cased */
function fieldExpr(svc: Services, field: string, caseInsensitive: boolean) {
  const expr = field === 'upn' ? attributeText(svc.dialect, 'upn') : sql.ref(field);
  return caseInsensitive ? sql`lower(${expr})` : expr;
}

type Found = UsersTable & { ks_field: number | string };

/**
 * the lookup of a list of fields as one statement, compiled once per database and list: each field's first match
 * (an indexed lookup, the oldest user), numbered by the field's place in the list, all of them UNION ALL-ed
 */
const lookups = perDatabase(() => new Map<string, Hot<{ v: string }, Found>>());
function fieldsLookup(svc: Services, fields: string[], caseInsensitive: boolean): Hot<{ v: string }, Found> {
  const byKey = lookups(svc.db);
  const key = `${caseInsensitive ? 'i' : 's'}:${fields.join(',')}`;
  let q = byKey.get(key);
  if (!q) {
    q = hot<{ v: string }, Found>(svc.db, ['v'], (p) =>
      fields
        .map((field, i) =>
          svc.db
            .selectFrom((eb) =>
              eb
                .selectFrom('users')
                .select(sql<number>`${sql.lit(i)}`.as('ks_field'))
                .selectAll('users')
                .where(fieldExpr(svc, field, caseInsensitive), '=', p.v)
                .orderBy('id')
                // a literal: SQLite plans `LIMIT ?` without knowing it is 1 (measured: 40 µs against 12 µs per lookup)
                .limit(sql.lit(1))
                .as(`f${i}`),
            )
            .selectAll(),
        )
        .reduce((all, one) => all.unionAll(one)),
    );
    // (the lists are the identification stages' settings: a handful)
    if (byKey.size >= 64) byKey.clear();
    byKey.set(key, q);
  }
  return q;
}

/**
 * The user an identifier names on any of `fields` (username, email, upn): the first field in order that matches,
 * the oldest user on ties. Inactive users are found. Every field is looked up, found or not, so the work does not
 * depend on whether (or how) the identifier matches: one statement of one indexed lookup per field (cheaper than
 * OR-ing them, which SQLite answers by merging the two indexes and sorting), one round trip.
 */
export async function findUser(svc: Services, fields: string[], value: string, caseInsensitive: boolean): Promise<UsersTable | undefined> {
  if (!fields.length || value === '') return undefined;
  const v = caseInsensitive ? value.toLowerCase() : value;
  const rows = await fieldsLookup(svc, fields, caseInsensitive)({ v });
  let first: Found | undefined;
  for (const r of rows) if (!first || Number(r.ks_field) < Number(first.ks_field)) first = r;
  if (!first) return undefined;
  const { ks_field: _, ...user } = first;
  return user;
}
