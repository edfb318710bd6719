/**
 * Database-backed browser sessions (cookie `authentik_session`), so any node can serve any request.
 * The cookie holds a random 256-bit key; the row holds the user, the flow plan and the CSRF token.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import type { AdminCache } from '../db/admin-cache.js';
import { hot, hotWrite } from '../db/hot.js';
import type { SessionsTable } from '../db/types.js';
import type { UsersTable } from '../db/types.js';
import type { Plan } from '../flows/plan.js';
import { bindingHolds } from './network-binding.js';

export const SESSION_COOKIE = 'authentik_session';
export const CSRF_COOKIE = 'authentik_csrf';
export const CSRF_HEADER = 'x-authentik-csrf';
const ANONYMOUS_AGE_MS = 86_400_000;

export interface SessionData {
  plan?: Plan;
  /** the flow page's query string, parsed */
  query?: Record<string, string>;
  csrf?: string;
  /** network binding recorded at login (see network-binding.ts) */
  binding?: string;
}

export interface SessionLimits {
  /** end sessions unused for this long (ms; 0 = never) */
  idleMs: number;
  /** no session outlives this (ms) */
  maxAgeMs: number;
}

/** last_seen is refreshed at most this often, so reading a session rarely costs a write */
const TOUCH_EVERY_MS = 60_000;

export interface Session {
  key: string | undefined;
  userId: number | null;
  data: SessionData;
  expires: Date;
  /** cookie lifetime: undefined = until the browser closes */
  cookieMaxAge?: number;
  dirty: boolean;
  /** what was stored when the session was loaded: an unchanged session is not written back */
  stored?: string;
  /** the key this session replaces (login rotates it): that row takes the new key when this one is first written */
  replaces?: string;
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

const newKey = () => randomBytes(32).toString('base64url');

export const isHttps = (req: FastifyRequest) => req.protocol === 'https';

/** requests whose session was ended because it came from outside the session's network binding */
const brokenBindings = new WeakSet<FastifyRequest>();
export const bindingBroken = (req: FastifyRequest) => brokenBindings.has(req);

export class Sessions {
  private readonly byKey;
  private readonly byKeyWithEpoch;
  private readonly upsert;
  private readonly update;
  private readonly rotate;

  constructor(
    private readonly db: DB,
    private readonly limits: SessionLimits = { idleMs: 0, maxAgeMs: 30 * 86_400_000 },
    /** told when a logged-in session is ended by its network binding (authentik records a logout) */
    private readonly onBindingBroken: (userId: number, req: FastifyRequest) => Promise<void> = async () => {},
    /**
     * PostgreSQL: the kept configuration, whose epoch the executor's session read fetches in the same statement
     * (admin-cache.ts), so an executor request costs no statement of its own for it
     */
    private readonly config?: AdminCache,
  ) {
    // a stored session changes by key: an UPDATE is one index walk, an upsert tries an insert first
    this.update = hot<{ key: string; last_seen: string; user_id: number | null; data: string; expires: string; last_ip: string; last_user_agent: string }, unknown>(
      db,
      ['key', 'last_seen', 'user_id', 'data', 'expires', 'last_ip', 'last_user_agent'],
      (p) =>
        db
          .updateTable('sessions')
          .set({ last_seen: p.last_seen, user_id: p.user_id, data: p.data, expires: p.expires, last_ip: p.last_ip, last_user_agent: p.last_user_agent })
          .where('session_key', '=', p.key),
    );
    this.byKey = hot<{ key: string }, SessionsTable>(db, ['key'], (p) => db.selectFrom('sessions').selectAll().where('session_key', '=', p.key));
    // PostgreSQL: one row always, the epoch and the session's columns (null when there is no such session)
    this.byKeyWithEpoch = config
      ? hot<{ key: string }, Nullable<SessionsTable> & { config_epoch: number | string }>(db, ['key'], (p) =>
          db
            .selectFrom('keystage_config_epoch as e')
            .leftJoin('sessions as s', (j) => j.on('s.session_key', '=', p.key))
            .select('e.epoch as config_epoch')
            .selectAll('s')
            .where('e.id', '=', 1),
        )
      : undefined;
    const cols = ['last_seen', 'session_key', 'user_id', 'data', 'expires', 'last_ip', 'last_user_agent', 'created'] as const;
    // login: the anonymous row takes the new key in one statement, so no moment has both rows or neither
    this.rotate = hotWrite<Record<(typeof cols)[number] | 'old', unknown>>(db, ['old', ...cols], (p) =>
      db
        .updateTable('sessions')
        .set({ session_key: p.session_key, last_seen: p.last_seen, user_id: p.user_id, data: p.data, expires: p.expires, last_ip: p.last_ip, last_user_agent: p.last_user_agent, created: p.created })
        .where('session_key', '=', p.old),
    );
    this.upsert = hot<Record<(typeof cols)[number], unknown>, unknown>(db, [...cols], (p) =>
      db
        .insertInto('sessions')
        .values(p as never)
        .onConflict((oc) =>
          oc.column('session_key').doUpdateSet({
            last_seen: (eb) => eb.ref('excluded.last_seen'),
            user_id: (eb) => eb.ref('excluded.user_id'),
            data: (eb) => eb.ref('excluded.data'),
            expires: (eb) => eb.ref('excluded.expires'),
            last_ip: (eb) => eb.ref('excluded.last_ip'),
            last_user_agent: (eb) => eb.ref('excluded.last_user_agent'),
          }),
        ),
    );
  }

  /** the stored session's data when it may still be used by this request (its idle clock refreshed), else undefined */
  private async alive(key: string, row: { expires: string; last_seen: string | null; data: string; user_id: number | null }, req: FastifyRequest): Promise<SessionData | undefined> {
    const now = Date.now();
    const lastSeen = row.last_seen ? new Date(row.last_seen).getTime() : now;
    const data = JSON.parse(row.data) as SessionData;
    const current = new Date(row.expires).getTime() > now && !(this.limits.idleMs > 0 && now - lastSeen > this.limits.idleMs);
    const bound = bindingHolds(data.binding, req.ip);
    if (!current || !bound) {
      await this.db.deleteFrom('sessions').where('session_key', '=', key).execute();
      if (current && row.user_id !== null) {
        brokenBindings.add(req);
        await this.onBindingBroken(row.user_id, req);
      }
      return undefined;
    }
    if (now - lastSeen > TOUCH_EVERY_MS)
      await this.db.updateTable('sessions').set({ last_seen: new Date(now).toISOString() }).where('session_key', '=', key).execute();
    return data;
  }

  /** the stored session of this key, if any (PostgreSQL: the configuration epoch noted on the way) */
  private async stored(key: string): Promise<SessionsTable | undefined> {
    if (!this.config || !this.byKeyWithEpoch) return (await this.byKey({ key }))[0];
    let row: (Nullable<SessionsTable> & { config_epoch: number | string }) | undefined;
    try {
      [row] = await this.byKeyWithEpoch({ key });
    } finally {
      this.config.observe(row ? Number(row.config_epoch) : undefined);
    }
    // no row at all: the epoch's row is gone (nothing is kept meanwhile); the session is read on its own
    if (!row) return (await this.byKey({ key }))[0];
    return row.session_key ? (row as SessionsTable) : undefined;
  }

  /**
   * The request's session, or a fresh unsaved one. Expired rows are ignored (and deleted). With PostgreSQL this is
   * also where an executor request learns the configuration epoch, so it runs before anything kept is used.
   */
  async load(req: FastifyRequest): Promise<Session> {
    const key = req.cookies?.[SESSION_COOKIE];
    if (key && key.length <= 128) {
      const row = await this.stored(key);
      const data = row && (await this.alive(key, row, req));
      if (row && data) return { key, userId: row.user_id, data, expires: new Date(row.expires), dirty: false, stored: row.data };
    } else await this.config?.refresh();
    return { key: undefined, userId: null, data: {}, expires: new Date(Date.now() + ANONYMOUS_AGE_MS), dirty: false };
  }

  /** The logged-in user of the request's session, if any. */
  async user(req: FastifyRequest): Promise<{ user: UsersTable; sessionKey: string; csrf: string | undefined } | undefined> {
    const key = req.cookies?.[SESSION_COOKIE];
    if (!key || key.length > 128) return undefined;
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('users')
      .select(['sessions.expires as session_expires', 'sessions.data as session_data', 'sessions.last_seen as session_last_seen'])
      .where('sessions.session_key', '=', key)
      .executeTakeFirst();
    if (!row || !row.is_active) return undefined;
    const data = await this.alive(key, { expires: row.session_expires, last_seen: row.session_last_seen, data: row.session_data, user_id: row.id }, req);
    if (!data) return undefined;
    const { session_expires: _e, session_data: _d, session_last_seen: _l, ...user } = row;
    return { user: user as UsersTable, sessionKey: key, csrf: data.csrf };
  }

  /** Writes the session if it changed, and (re)sets the cookies of a new key. */
  async save(s: Session, req: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (!s.dirty) return;
    const isNew = !s.key;
    s.key ??= newKey();
    s.data.csrf ??= newKey();
    const data = JSON.stringify(s.data);
    if (!isNew && data === s.stored) {
      s.dirty = false;
      return;
    }
    s.stored = data;
    const row = {
      last_seen: new Date().toISOString(),
      session_key: s.key,
      user_id: s.userId,
      data,
      expires: s.expires.toISOString(),
      last_ip: req.ip,
      last_user_agent: String(req.headers['user-agent'] ?? '').slice(0, 512),
      created: new Date().toISOString(),
    };
    if (isNew) {
      // a login renames the anonymous row; when that row is gone (ended meanwhile) the session is created afresh
      const renamed = s.replaces ? await this.rotate({ old: s.replaces, ...row }) : 0;
      if (!renamed) await this.upsert(row);
    } else await this.update({ key: row.session_key, last_seen: row.last_seen, user_id: row.user_id, data: row.data, expires: row.expires, last_ip: row.last_ip, last_user_agent: row.last_user_agent });
    s.dirty = false;
    s.replaces = undefined;
    if (isNew) this.setCookies(s, req, reply);
  }

  private setCookies(s: Session, req: FastifyRequest, reply: FastifyReply) {
    const secure = isHttps(req);
    const maxAge = s.cookieMaxAge;
    reply.setCookie(SESSION_COOKIE, s.key!, { path: '/', httpOnly: true, sameSite: 'lax', secure, ...(maxAge ? { maxAge } : {}) });
    reply.setCookie(CSRF_COOKIE, s.data.csrf!, { path: '/', httpOnly: false, sameSite: 'lax', secure, ...(maxAge ? { maxAge } : {}) });
  }

  /**
   * Logs `userId` in: a NEW session key and CSRF token (the anonymous key is never reused), the old row deleted,
   * the flow state carried over. Both happen when the request saves the session (once, with the rest of the step).
   */
  async login(
    s: Session,
    userId: number,
    expires: Date,
    cookieMaxAge: number | undefined,
    binding?: string,
  ) {
    const old = s.key;
    const cap = Date.now() + this.limits.maxAgeMs;
    s.key = undefined;
    s.userId = userId;
    s.expires = new Date(Math.min(expires.getTime(), cap));
    s.cookieMaxAge = cookieMaxAge === undefined ? undefined : Math.min(cookieMaxAge, Math.floor(this.limits.maxAgeMs / 1000));
    s.data.csrf = undefined;
    s.data.binding = binding;
    s.dirty = true;
    if (old) s.replaces = s.replaces ?? old;
  }

  async terminateOthers(userId: number, keep: string | undefined) {
    let q = this.db.deleteFrom('sessions').where('user_id', '=', userId);
    if (keep) q = q.where('session_key', '<>', keep);
    await q.execute();
  }

  /**
   * Logout: the server-side row is deleted and the cookies cleared. The flow running the logout keeps its plan (in
   * the new anonymous session), so stages after a logout stage continue that flow.
   */
  async destroy(s: Session, reply: FastifyReply) {
    if (s.key) await this.db.deleteFrom('sessions').where('session_key', '=', s.key).execute();
    s.key = undefined;
    s.userId = null;
    s.data = { plan: s.data.plan, query: s.data.query };
    s.dirty = true;
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    reply.clearCookie(CSRF_COOKIE, { path: '/' });
  }
}
