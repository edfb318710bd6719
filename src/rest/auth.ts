/**
 * Who is calling: bearer API token first, then the session cookie (when a session resolver is installed).
 * A bad token is a 403 "Token invalid/expired" on every route, as in authentik.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import { secretsOf } from '../instance/secrets.js';
import { Forbidden } from './errors.js';
import { isSuperuser } from '../groups/membership.js';

export interface Caller {
  user: UsersTable;
  superuser: boolean;
  via: 'token' | 'session';
  /** set for session-authenticated callers: unsafe methods must pass the CSRF check */
  sessionKey?: string;
  csrf?: string;
  /** the session is an impersonation: who started it (the caller acts as `user`) */
  impersonator?: UsersTable;
}

export type SessionResolver = (
  req: FastifyRequest,
) => Promise<{ user: UsersTable; sessionKey: string; csrf: string | undefined; impersonator?: UsersTable } | undefined>;

declare module 'fastify' {
  interface FastifyRequest {
    caller?: Caller;
  }
}

// a user is a superuser through any group they are a member of, inherited through parent groups
export { isSuperuser, superuserIds } from '../groups/membership.js';

/**
 * Looks the key up by its keyed hash (HMAC under a key derived from the secret key, core/secrets.ts), so the lookup's
 * timing says nothing about the key and the stored hash alone does not allow guessing it offline.
 */
export async function userForApiKey(db: DB, key: string): Promise<UsersTable | undefined> {
  const row = await apiTokenOf(db, key);
  if (!row || !row.is_active) return undefined;
  const { token_uuid: _, ...user } = row;
  return user as UsersTable;
}

/** the live (unexpired) API token with this key: its uuid and its user's row (active or not: the caller decides) */
export function apiTokenOf(db: DB, key: string): Promise<(UsersTable & { token_uuid: string }) | undefined> {
  const now = new Date().toISOString();
  return db
    .selectFrom('tokens')
    .innerJoin('users', 'users.id', 'tokens.user_id')
    .selectAll('users')
    .select('tokens.token_uuid')
    .where('tokens.key_hash', '=', secretsOf(db).lookupHash(key))
    .where('tokens.intent', '=', 'api')
    .where((eb) => eb.or([eb('tokens.expiring', '=', 0), eb('tokens.expires', '>', now)]))
    .executeTakeFirst() as Promise<(UsersTable & { token_uuid: string }) | undefined>;
}

/** a bearer credential's user, for credentials other than API tokens; undefined: not one of its kind */
export type BearerLookup = (db: DB, credential: string) => Promise<UsersTable | undefined>;
const bearerLookups = new Set<BearerLookup>();

/**
 * the API also takes, after API tokens, the bearer credentials `lookup` knows (authentik's `auth_user_lookup`: an
 * OAuth2 access token with the `goauthentik.io/api` scope, from the OAuth2 provider type); set once by the app wiring
 */
export function acceptBearer(lookup: BearerLookup): void {
  bearerLookups.add(lookup);
}

async function bearerUser(db: DB, credential: string): Promise<UsersTable | undefined> {
  const user = await userForApiKey(db, credential);
  if (user) return user;
  for (const lookup of bearerLookups) {
    const u = await lookup(db, credential);
    if (u) return u.is_active ? u : undefined;
  }
  return undefined;
}

/** the credential of an `Authorization: Bearer …` header (the scheme in any case); undefined for anything else */
export function bearerOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization;
  if (!header) return undefined;
  const idx = header.indexOf(' ');
  if (idx < 0 || header.slice(0, idx).toLowerCase() !== 'bearer') return undefined;
  const credential = header.slice(idx + 1).trim();
  return credential === '' ? undefined : credential;
}

export async function identify(db: DB, req: FastifyRequest, session?: SessionResolver): Promise<Caller | undefined> {
  const credential = bearerOf(req);
  if (credential !== undefined) {
    const user = await bearerUser(db, credential);
    if (!user) throw Forbidden.badToken();
    return { user, superuser: await isSuperuser(db, user.id), via: 'token' };
  }
  if (session) {
    const s = await session(req);
    if (s)
      return {
        user: s.user,
        superuser: await isSuperuser(db, s.user.id),
        via: 'session',
        sessionKey: s.sessionKey,
        csrf: s.csrf,
        ...(s.impersonator ? { impersonator: s.impersonator } : {}),
      };
  }
  return undefined;
}

export function requireCaller(req: FastifyRequest): Caller {
  if (!req.caller) throw Forbidden.notAuthenticated();
  return req.caller;
}

export function requireSuperuser(req: FastifyRequest): Caller {
  const c = requireCaller(req);
  if (!c.superuser) throw Forbidden.permission();
  return c;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);

/** Session-authenticated unsafe requests must echo the `authentik_csrf` cookie in `X-authentik-CSRF` (as DRF). */
export function checkCsrf(req: FastifyRequest, caller: Caller | undefined): void {
  if (!caller || caller.via !== 'session' || SAFE.has(req.method)) return;
  const sent = req.headers['x-authentik-csrf'];
  if (typeof sent !== 'string' || sent === '') throw Forbidden.csrf('CSRF token missing.');
  const want = caller.csrf ?? '';
  const a = Buffer.from(sent);
  const b = Buffer.from(want);
  if (a.length !== b.length || !timingSafeEqual(a, b)) throw Forbidden.csrf('CSRF token incorrect.');
}
