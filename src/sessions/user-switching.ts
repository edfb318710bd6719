/**
 * authentik's user switching: one browser may hold several logins and move between them. Each browser has a random
 * token in the `authentik_user_switching` cookie (a JWT signed with a key derived from the secret key, for a year);
 * the logins made in it name the token in their row (`sessions.switch_token`, migration 0031). A login is bound to
 * the browser's token when the browser next asks who it is (`reconcile`, from `/core/users/me/` and
 * `/core/users/switch/`, as authentik's middleware): the token the row already names, else the cookie's, else a new
 * one. The logins a browser holds are the unexpired ones of active users that name its token, the newest per user.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { SignJWT, jwtVerify } from 'jose';
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import { randomToken } from '../crypto/random.js';
import { purposeKey } from '../instance/secrets.js';
import { isHttps } from './sessions.js';

export const SWITCH_COOKIE = 'authentik_user_switching';
const COOKIE_AGE_S = 365 * 86_400;
const TOKEN = /^[A-Za-z0-9_-]{32,64}$/;

const keys = new Map<string, Uint8Array>();
const keyOf = (secretKey: string): Uint8Array => {
  let k = keys.get(secretKey);
  if (!k) keys.set(secretKey, (k = purposeKey(secretKey, 'keystage/cookies/user-switching')));
  return k;
};

/** the browser's token from its cookie, when the cookie is one this server signed */
export async function browserToken(req: FastifyRequest, secretKey: string): Promise<string | undefined> {
  const raw = req.cookies?.[SWITCH_COOKIE];
  if (!raw || raw.length > 1024) return undefined;
  try {
    const { payload } = await jwtVerify(raw, keyOf(secretKey), { algorithms: ['HS256'], issuer: 'authentik', subject: 'user_switching' });
    const t = payload.user_switching;
    return typeof t === 'string' && TOKEN.test(t) ? t : undefined;
  } catch {
    return undefined;
  }
}

async function setCookie(req: FastifyRequest, reply: FastifyReply, secretKey: string, token: string) {
  const value = await new SignJWT({ user_switching: token })
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer('authentik')
    .setSubject('user_switching')
    .sign(keyOf(secretKey));
  reply.setCookie(SWITCH_COOKIE, value, { path: '/', httpOnly: true, sameSite: 'lax', secure: isHttps(req), maxAge: COOKIE_AGE_S });
}

/**
 * The token of the browser holding the login `sessionKey`, binding the login to it if it names none yet; the cookie
 * is (re)set when it does not carry that token.
 */
export async function reconcile(db: DB, req: FastifyRequest, reply: FastifyReply, secretKey: string, sessionKey: string): Promise<string> {
  const fromCookie = await browserToken(req, secretKey);
  const row = await db.selectFrom('sessions').select('switch_token').where('session_key', '=', sessionKey).executeTakeFirst();
  let token = row?.switch_token ?? undefined;
  if (!token) {
    const wanted = fromCookie ?? randomToken(24, 'base64url');
    await db
      .updateTable('sessions')
      .set({ switch_token: wanted })
      .where('session_key', '=', sessionKey)
      .where('switch_token', 'is', null)
      .execute();
    // (a request beside this one may have bound it first: its token holds)
    const now = await db.selectFrom('sessions').select('switch_token').where('session_key', '=', sessionKey).executeTakeFirst();
    token = now?.switch_token ?? wanted;
  }
  if (token !== fromCookie) await setCookie(req, reply, secretKey, token);
  return token;
}

export interface HeldLogin {
  sessionKey: string;
  user: UsersTable;
}

/** the live logins a browser's token holds: one per active user, the newest, `current` first */
export async function heldLogins(db: DB, token: string, current?: string): Promise<HeldLogin[]> {
  const rows = await db
    .selectFrom('sessions as s')
    .innerJoin('users as u', 'u.id', 's.user_id')
    .selectAll('u')
    .select(['s.session_key as held_session_key', 's.last_seen as held_last_seen'])
    .where('s.switch_token', '=', token)
    .where('s.expires', '>', new Date().toISOString())
    .where('u.is_active', '=', 1 as never)
    .orderBy(sql`case when s.session_key = ${current ?? ''} then 0 else 1 end`)
    .orderBy('s.last_seen', 'desc')
    .orderBy('s.created', 'desc')
    .execute();
  const seen = new Set<number>();
  const out: HeldLogin[] = [];
  for (const r of rows) {
    if (seen.has(r.id)) continue;
    seen.add(r.id);
    const { held_session_key, held_last_seen: _, ...user } = r;
    out.push({ sessionKey: held_session_key, user: user as UsersTable });
  }
  return out;
}
