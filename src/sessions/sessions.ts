/**
 * Database-backed browser sessions (cookie `authentik_session`), so any node can serve any request.
 * The cookie holds a random 256-bit token; the row, keyed by the token's SHA-256 (session-hash.ts: never the token
 * itself), holds the user, the flow plan and the CSRF token.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import type { AdminCache } from '../db/admin-cache.js';
import { sql, type Compilable, type QueryCreator } from 'kysely';
import { type Hot, hot, hotWrite } from '../db/hot.js';
import { ASYNC_COMMIT, asyncCommit } from '../db/async-commit.js';
import type { Database, SessionsTable } from '../db/types.js';
import type { UsersTable } from '../db/types.js';
import type { Plan } from '../flows/engine/plan.js';
import { bindingBroken as bindingBrokenBy, type BindingBroken, type Bound } from './session-binding.js';
import { GeoIP } from '../geoip/databases.js';
import { randomToken } from '../crypto/random.js';
import { sessionKeyOf } from './session-hash.js';

export const SESSION_COOKIE = 'authentik_session';
export const CSRF_COOKIE = 'authentik_csrf';
export const CSRF_HEADER = 'x-authentik-csrf';
/**
 * how long a flow request's hold on its session lasts unless renewed (PostgreSQL): the holder renews it every third
 * of this while it runs, so a node that dies holding a session lets go of it within this time
 */
export const DEFAULT_LEASE_MS = 8_000;
/** how long a flow request waits for the other requests of its session before it gives up (longer than a lease) */
const LOCK_WAIT_MS = 10_000;

/**
 * A write that rides in the statement saving a session: with PostgreSQL, a data-modifying CTE ahead of the session's
 * UPDATE (one statement, one round trip and one commit instead of two); on its own just before the save otherwise
 * (SQLite, where a statement costs no round trip, and every save that is not that UPDATE).
 */
export interface Carried {
  /** runs the write on its own */
  run(): Promise<void>;
  /** the write as a statement to carry, taken (from then on the carrier's to run); absent or undefined: run it alone */
  take?(): CarriedStatement | undefined;
}

export interface CarriedStatement {
  /** names the statement's shape: one compiled statement per shape */
  shape: string;
  names: string[];
  params: Record<string, unknown>;
  /** builds the write from placeholder values (as `hot`'s builders), under `qc`, which makes it a CTE */
  build(qc: QueryCreator<Database>, p: Record<string, any>): Compilable<unknown>;
}

type UpdateParams = {
  key: string;
  last_seen: string;
  user_id: number | null;
  data: string;
  last_ip: string;
  last_user_agent: string;
  release: number;
  held: string;
  /** 1: commit synchronously whatever the row (the request owes an earlier write durability) */
  sync: number;
};
const UPDATE_NAMES: (keyof UpdateParams)[] = [
  'key',
  'last_seen',
  'user_id',
  'data',
  'last_ip',
  'last_user_agent',
  'release',
  'held',
  'sync',
];

/**
 * an anonymous session's writes (its flow's progress) may commit asynchronously (src/db/async-commit.ts), unless
 * `sync` (a placeholder) is 1
 */
const anonymousUnless = (sync: unknown) => sql`${sync} = 0 AND sessions.user_id IS NULL`;
const anonymous = sql`sessions.user_id IS NULL`;

/**
 * a stored session's UPDATE (its expiry never changes here: a login or logout makes a new key); `postgres`: an
 * anonymous session's commits asynchronously
 */
const updateSession = (qc: QueryCreator<Database>, p: Record<keyof UpdateParams, any>, postgres: boolean) =>
  qc
    .updateTable('sessions')
    .set({
      last_seen: p.last_seen,
      user_id: p.user_id,
      data: p.data,
      last_ip: p.last_ip,
      last_user_agent: p.last_user_agent,
      // a release lets go only of this request's own hold (not of one taken after its lease ran out)
      lock_until: sql<string | null>`CASE WHEN ${p.release} = 1 AND lock_until = ${p.held} THEN NULL ELSE lock_until END`,
    })
    .where('session_key', '=', p.key)
    .$if(postgres, (q) => q.returning(asyncCommit(anonymousUnless(p.sync))));

/** a flow request could not have its session to itself in time (another request of the session kept it) */
export class SessionBusyError extends Error {
  constructor() {
    super('session busy');
  }
}

export interface SessionData {
  plan?: Plan;
  /** the flow page's query string, parsed */
  query?: Record<string, string>;
  csrf?: string;
  /** where the session was logged in from and how it is bound to it (session-binding.ts) */
  bound?: Bound;
  /** a network binding as sessions logged in before GeoIP support kept it (`ip:…`, `net:…`) */
  binding?: string;
  /**
   * the flow inspector's history (authentik's `authentik/flows/history`): the plan as it was before each stage that
   * passed, kept only for a person allowed to inspect `flow` (src/flows/rest/inspector.ts)
   */
  inspector?: { flow: string; plans: Plan[] };
  /** what providers keep while a flow runs for them, by a key of their choosing (an OAuth2 authorization request) */
  providers?: Record<string, unknown>;
  /** what sources keep between sending a person to the identity provider and its callback (state, PKCE verifier) */
  sources?: Record<string, unknown>;
  /** an impersonation: the user who started it (the session's user is the one impersonated) */
  impersonator?: number;
}

export interface SessionLimits {
  /** end sessions unused for this long (ms; 0 = never) */
  idleMs: number;
  /** no session outlives this (ms) */
  maxAgeMs: number;
  /** a session nobody has logged in to (flow state only) ends this long after it was first stored (ms) */
  anonymousMs: number;
  /** a flow request's hold on its session with PostgreSQL, renewed while it runs (ms; DEFAULT_LEASE_MS) */
  leaseMs?: number;
}

/** last_seen is refreshed at most this often, so reading a session rarely costs a write */
const TOUCH_EVERY_MS = 60_000;

export interface Session {
  /** the stored row's key: the SHA-256 of the cookie's token */
  key: string | undefined;
  /** the cookie's token, for a key this request made (the cookie is set from it; a loaded session's stays unknown) */
  token?: string;
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
  /** `replaces` names an anonymous row (nobody was logged in to it): its rotation may commit asynchronously */
  replacesAnonymous?: boolean;
  /** the stored row this request holds (`load` with `exclusive`) until it is saved or `unlock`ed */
  lockedKey?: string;
  /** this request's hold on lockedKey's row, renewed while the request runs (PostgreSQL) */
  lease?: Lease;
  /** ends this request's turn among the requests of its session on this node */
  endTurn?: () => void;
}

/** a request's hold on its session row: the `lock_until` it last set, and the timer renewing it */
interface Lease {
  until: string;
  timer: NodeJS.Timeout;
  /** a renewal under way (a release waits for it, so it matches what the row holds) */
  renewing?: Promise<void>;
}

type Nullable<T> = { [K in keyof T]: T[K] | null };

const newKey = () => randomToken(32, 'base64url');

export const isHttps = (req: FastifyRequest) => req.protocol === 'https';

/** requests whose session was ended because it came from outside the session's network binding */
const brokenBindings = new WeakSet<FastifyRequest>();
export const bindingBroken = (req: FastifyRequest) => brokenBindings.has(req);

/** whose session ended and who ended it (the Shared Signals Framework's `initiating_entity`) */
export interface SessionEnding {
  userId: number | null;
  by: 'user' | 'admin' | 'policy' | 'system';
}

export type LogoutListener = (sessionKey: string, session?: Session, req?: FastifyRequest, ending?: SessionEnding) => Promise<void>;

export class Sessions {
  private readonly acquire;
  private readonly unlockKey;
  private readonly renewLease;
  private readonly leaseMs: number;
  private readonly updateIfUnchanged;
  /** this node's queue of flow requests per session key (the database lease orders them across nodes) */
  private readonly turns = new Map<string, Promise<void>>();
  private readonly byKey;
  private readonly byKeyWithEpoch;
  private readonly upsert;
  private readonly update;
  /** the UPDATE with a carried write ahead of it, by the write's shape (PostgreSQL) */
  private readonly updateCarrying = new Map<string, Hot<Record<string, unknown>, unknown>>();
  private readonly rotate;
  private readonly touchKey;

  constructor(
    private readonly db: DB,
    private readonly limits: SessionLimits = { idleMs: 0, maxAgeMs: 30 * 86_400_000, anonymousMs: 30 * 60_000 },
    /** told when a logged-in session is ended by its network or GeoIP binding (authentik records a logout) */
    private readonly onBindingBroken: (userId: number, req: FastifyRequest, why: BindingBroken) => Promise<void> = async () => {},
    /**
     * PostgreSQL: the kept configuration, whose epoch the executor's session read fetches in the same statement
     * (admin-cache.ts), so an executor request costs no statement of its own for it
     */
    private readonly config?: AdminCache,
    /**
     * whether other processes serve this database (PostgreSQL): a flow POST's hold on its session is then also a
     * lease on the row; SQLite is one process, where this node's queue is the whole story
     */
    private readonly shared = false,
    /** the ASN and GeoIP databases the bindings compare addresses by (default: none, bindings by address and prefix) */
    private readonly geoip: GeoIP = new GeoIP({ cityPath: undefined, asnPath: undefined }, { info() {}, warn() {} }),
  ) {
    // a stored session changes by key: an UPDATE is one index walk, an upsert tries an insert first (a request holding
    // the row lets go of it in the same statement). Its expiry never changes here, so the `expires` index is left alone.
    this.update = hot<UpdateParams, unknown>(db, UPDATE_NAMES, (p) => updateSession(db, p, shared));
    // a flow request takes its session's row for itself (a lease, so a dead node's hold ends) and reads it in one
    // statement; with PostgreSQL the configuration epoch comes along, as with byKeyWithEpoch. With PostgreSQL the
    // leases' writes commit asynchronously (src/db/async-commit.ts: a lease lost in a crash only ends sooner)
    this.acquire = hot<{ key: string; now: string; until: string }, SessionsTable & { config_epoch?: number | string }>(
      db,
      ['key', 'now', 'until'],
      (p) => {
        const q = db
          .updateTable('sessions')
          .set({ lock_until: p.until })
          .where('session_key', '=', p.key)
          .where((eb) => eb.or([eb('lock_until', 'is', null), eb('lock_until', '<', p.now)]))
          .returningAll()
          .$if(shared, (b) => b.returning(asyncCommit()));
        return config ? q.returning(sql<number>`(select epoch from keystage_config_epoch where id = 1)`.as('config_epoch')) : q;
      },
    );
    // a request that does not hold the row (a flow GET) writes only over what it read, and never while a request
    // holds the row: it cannot undo what a POST counted meanwhile (compare-and-set on the stored data)
    this.updateIfUnchanged = hotWrite<{ key: string; prev: string; now: string; last_seen: string; data: string }>(
      db,
      ['key', 'prev', 'now', 'last_seen', 'data'],
      (p) =>
        db
          .updateTable('sessions')
          .set({ last_seen: p.last_seen, data: p.data })
          .where('session_key', '=', p.key)
          .where('data', '=', p.prev)
          .where((eb) => eb.or([eb('lock_until', 'is', null), eb('lock_until', '<', p.now)]))
          .$if(shared, (q) => q.returning(asyncCommit(anonymous))),
    );
    // a synchronous write that changes nothing, so every earlier commit is durable when it returns (`flush`)
    this.touchKey = hotWrite<{ key: string }>(db, ['key'], (p) =>
      db
        .updateTable('sessions')
        .set((eb) => ({ last_seen: eb.ref('last_seen') }))
        .where('session_key', '=', p.key),
    );
    this.unlockKey = hot<{ key: string; held: string }, unknown>(db, ['key', 'held'], (p) =>
      db
        .updateTable('sessions')
        .set({ lock_until: null })
        .where('session_key', '=', p.key)
        .where('lock_until', '=', p.held)
        .$if(shared, (q) => q.returning(asyncCommit())),
    );
    // a hold is renewed only while it is still the one this request took (not after a release or a takeover)
    this.renewLease = hotWrite<{ key: string; was: string; until: string }>(db, ['key', 'was', 'until'], (p) =>
      db
        .updateTable('sessions')
        .set({ lock_until: p.until })
        .where('session_key', '=', p.key)
        .where('lock_until', '=', p.was)
        .$if(shared, (q) => q.returning(asyncCommit())),
    );
    this.leaseMs = limits.leaseMs ?? DEFAULT_LEASE_MS;
    this.byKey = hot<{ key: string }, SessionsTable>(db, ['key'], (p) =>
      db.selectFrom('sessions').selectAll().where('session_key', '=', p.key),
    );
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
    // (`uuid`: the session's public identifier, new with each key — /core/authenticated_sessions/)
    const cols = ['last_seen', 'session_key', 'user_id', 'data', 'expires', 'last_ip', 'last_user_agent', 'created', 'uuid'] as const;
    // login: the anonymous row takes the new key in one statement, so no moment has both rows or neither. With
    // PostgreSQL, when the row renamed was anonymous (`lossless`), asynchronously: lost in a crash, the new key is
    // gone and the old one names the anonymous row it named before — the person logs in again, nobody gains a login
    // (src/db/async-commit.ts). A row someone was logged in to is renamed synchronously: losing that rename would
    // bring back the login it replaced.
    this.rotate = hotWrite<Record<(typeof cols)[number] | 'old' | 'lossless', unknown>>(db, ['old', 'lossless', ...cols], (p) =>
      db
        .updateTable('sessions')
        .set({
          session_key: p.session_key,
          last_seen: p.last_seen,
          user_id: p.user_id,
          data: p.data,
          expires: p.expires,
          last_ip: p.last_ip,
          last_user_agent: p.last_user_agent,
          created: p.created,
          uuid: p.uuid,
          lock_until: null,
        })
        .where('session_key', '=', p.old)
        .$if(shared, (q) => q.returning(asyncCommit(sql`${p.lossless} = 1`))),
    );
    // (a new anonymous session commits asynchronously with PostgreSQL, as its later writes, unless `sync`)
    this.upsert = hot<Record<(typeof cols)[number] | 'sync', unknown>, unknown>(db, [...cols, 'sync'], (p) =>
      db
        .insertInto('sessions')
        .values(Object.fromEntries(cols.map((c) => [c, p[c]])) as never)
        .onConflict((oc) =>
          oc.column('session_key').doUpdateSet({
            last_seen: (eb) => eb.ref('excluded.last_seen'),
            user_id: (eb) => eb.ref('excluded.user_id'),
            data: (eb) => eb.ref('excluded.data'),
            expires: (eb) => eb.ref('excluded.expires'),
            last_ip: (eb) => eb.ref('excluded.last_ip'),
            last_user_agent: (eb) => eb.ref('excluded.last_user_agent'),
          }),
        )
        .$if(shared, (q) => q.returning(asyncCommit(anonymousUnless(p.sync)))),
    );
  }

  /** the stored session's data when it may still be used by this request (its idle clock refreshed), else undefined */
  private async alive(
    key: string,
    row: { expires: string; last_seen: string | null; data: string; user_id: number | null },
    req: FastifyRequest,
  ): Promise<SessionData | undefined> {
    const now = Date.now();
    const lastSeen = row.last_seen ? new Date(row.last_seen).getTime() : now;
    const data = JSON.parse(row.data) as SessionData;
    const current = new Date(row.expires).getTime() > now && !(this.limits.idleMs > 0 && now - lastSeen > this.limits.idleMs);
    const why = current && (data.bound || data.binding) ? this.bindingBroken(data, req.ip) : undefined;
    if (!current || why) {
      await this.db.deleteFrom('sessions').where('session_key', '=', key).execute();
      if (why && row.user_id !== null) {
        brokenBindings.add(req);
        await this.onBindingBroken(row.user_id, req, why);
      }
      return undefined;
    }
    if (now - lastSeen > TOUCH_EVERY_MS)
      await this.db
        .updateTable('sessions')
        .set({ last_seen: new Date(now).toISOString() })
        .where('session_key', '=', key)
        .execute();
    return data;
  }

  /** why a request from `ip` may not use a session with this binding; undefined: it may */
  private bindingBroken(data: SessionData, ip: string): BindingBroken | undefined {
    return bindingBrokenBy(data.bound, data.binding, ip, this.geoip);
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
   *
   * `exclusive` (flow POSTs): the request has its stored session to itself until it saves it or calls `unlock` —
   * requests of one session run one at a time, on this node in arrival order and, with PostgreSQL, across nodes
   * through a lease on the row — so state they count (failed attempts, single-use challenges) cannot be raced.
   * Throws SessionBusyError when the session's other requests keep it longer than LOCK_WAIT_MS.
   */
  async load(req: FastifyRequest, opts: { exclusive?: boolean } = {}): Promise<Session> {
    const token = req.cookies?.[SESSION_COOKIE];
    if (token && token.length <= 128) {
      const key = sessionKeyOf(token);
      const endTurn = opts.exclusive ? await this.turn(key) : undefined;
      try {
        const leased = opts.exclusive && this.shared;
        const held = leased ? await this.lockRow(key) : undefined;
        const row = leased ? held?.row : await this.stored(key);
        const data = row && (await this.alive(key, row, req));
        if (row && data)
          return {
            key,
            userId: row.user_id,
            data,
            expires: new Date(row.expires),
            dirty: false,
            stored: row.data,
            lockedKey: leased ? key : undefined,
            lease: held ? this.keepLease(key, held.until) : undefined,
            endTurn,
          };
        // (a row taken but not alive: its lease runs out; alive() deleted an expired one)
      } catch (e) {
        endTurn?.();
        throw e;
      }
      return { ...this.fresh(), endTurn };
    }
    await this.config?.refresh();
    return this.fresh();
  }

  private fresh(): Session {
    return { key: undefined, userId: null, data: {}, expires: new Date(Date.now() + this.limits.anonymousMs), dirty: false };
  }

  /** waits for this node's earlier requests of the session; returns what ends this request's turn */
  private async turn(key: string): Promise<() => void> {
    const before = this.turns.get(key);
    let end!: () => void;
    const mine = new Promise<void>((r) => (end = r));
    const tail = before ? before.then(() => mine) : mine;
    this.turns.set(key, tail);
    const endTurn = () => {
      end();
      if (this.turns.get(key) === tail) this.turns.delete(key);
    };
    if (before) {
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        before.then(() => true),
        new Promise<boolean>((r) => (timer = setTimeout(() => r(false), LOCK_WAIT_MS))),
      ]);
      clearTimeout(timer);
      if (!waited) {
        endTurn();
        throw new SessionBusyError();
      }
    }
    return endTurn;
  }

  /** the stored row, taken for this request (undefined when there is none); waits while another node holds it */
  private async lockRow(key: string): Promise<{ row: SessionsTable; until: string } | undefined> {
    const deadline = Date.now() + Math.max(LOCK_WAIT_MS, this.leaseMs + 2_000);
    for (;;) {
      const now = Date.now();
      const until = new Date(now + this.leaseMs).toISOString();
      let row: (SessionsTable & { config_epoch?: number | string | null; [ASYNC_COMMIT]?: unknown }) | undefined;
      try {
        [row] = await this.acquire({ key, now: new Date(now).toISOString(), until });
      } catch (e) {
        // the database is unreachable: nothing kept is trusted until a read succeeds
        this.config?.observe(undefined);
        throw e;
      }
      if (row) {
        // (no row: the read below notes the epoch)
        this.config?.observe(row.config_epoch === undefined || row.config_epoch === null ? undefined : Number(row.config_epoch));
        delete row.config_epoch;
        delete row[ASYNC_COMMIT];
        return { row, until };
      }
      // no row taken: there is none (a fresh session), or another request holds it
      const stored = await this.stored(key);
      if (!stored) return undefined;
      if (Date.now() >= deadline) throw new SessionBusyError();
      if (stored.lock_until && stored.lock_until >= new Date().toISOString())
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 30));
    }
  }

  /**
   * Renews this request's hold on `key` every third of the lease while the request runs; stops when the row no
   * longer holds this hold (released, renamed by a login, deleted, or taken over after a missed renewal). A failed
   * renewal is retried at the next tick; the hold then lasts at least until the lease it last set.
   */
  private keepLease(key: string, until: string): Lease {
    const lease: Lease = {
      until,
      timer: setInterval(() => {
        if (lease.renewing) return;
        const next = new Date(Date.now() + this.leaseMs).toISOString();
        lease.renewing = this.renewLease({ key, was: lease.until, until: next }).then(
          (n) => {
            lease.renewing = undefined;
            if (n) lease.until = next;
            else clearInterval(lease.timer);
          },
          () => {
            lease.renewing = undefined;
          },
        );
      }, this.leaseMs / 3),
    };
    lease.timer.unref();
    return lease;
  }

  /** stops renewing this request's hold; the `lock_until` it holds ('' when none) */
  private async settleLease(s: Session): Promise<string> {
    const lease = s.lease;
    if (!lease) return '';
    clearInterval(lease.timer);
    await lease.renewing;
    return lease.until;
  }

  /** this request no longer holds its session's row */
  private letGo(s: Session) {
    s.lockedKey = undefined;
    if (s.lease) clearInterval(s.lease.timer);
    s.lease = undefined;
  }

  /** ends the request's hold on its session (when saving did not already) and its turn; safe to call twice */
  async unlock(s: Session): Promise<void> {
    try {
      if (s.lockedKey) {
        const key = s.lockedKey;
        const held = await this.settleLease(s);
        this.letGo(s);
        await this.unlockKey({ key, held });
      }
    } finally {
      s.endTurn?.();
      s.endTurn = undefined;
    }
  }

  private sweeper: NodeJS.Timeout | undefined;

  /** deletes expired sessions every minute (unref'd: never keeps the process alive) */
  startSweeper(log: (err: unknown) => void, everyMs = 60_000) {
    this.sweeper = setInterval(() => void this.purgeExpired().catch(log), everyMs);
    this.sweeper.unref();
  }

  stop() {
    if (this.sweeper) clearInterval(this.sweeper);
  }

  /** deletes sessions past their expiry, a bounded batch at a time; returns how many */
  async purgeExpired(batch = 5000): Promise<number> {
    const now = new Date().toISOString();
    let total = 0;
    for (;;) {
      const r = await this.db
        .deleteFrom('sessions')
        .where('session_key', 'in', (eb) => eb.selectFrom('sessions').select('session_key').where('expires', '<', now).limit(batch))
        .executeTakeFirst();
      const n = Number(r.numDeletedRows);
      total += n;
      if (n < batch) return total;
    }
  }

  /** The logged-in user of the request's session, if any. */
  async user(
    req: FastifyRequest,
  ): Promise<{ user: UsersTable; sessionKey: string; csrf: string | undefined; impersonator?: UsersTable } | undefined> {
    const token = req.cookies?.[SESSION_COOKIE];
    if (!token || token.length > 128) return undefined;
    const key = sessionKeyOf(token);
    const row = await this.db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .selectAll('users')
      .select(['sessions.expires as session_expires', 'sessions.data as session_data', 'sessions.last_seen as session_last_seen'])
      .where('sessions.session_key', '=', key)
      .executeTakeFirst();
    if (!row || !row.is_active) return undefined;
    const data = await this.alive(
      key,
      { expires: row.session_expires, last_seen: row.session_last_seen, data: row.session_data, user_id: row.id },
      req,
    );
    if (!data) return undefined;
    const { session_expires: _e, session_data: _d, session_last_seen: _l, ...user } = row;
    if (data.impersonator === undefined) return { user: user as UsersTable, sessionKey: key, csrf: data.csrf };
    // an impersonation lasts only while its impersonator may log in
    const impersonator = (await this.db.selectFrom('users').selectAll().where('id', '=', data.impersonator).executeTakeFirst()) as
      | UsersTable
      | undefined;
    if (!impersonator?.is_active) {
      await this.db.deleteFrom('sessions').where('session_key', '=', key).execute();
      return undefined;
    }
    return { user: user as UsersTable, sessionKey: key, csrf: data.csrf, impersonator };
  }

  /**
   * Impersonation (authentik's impersonate/impersonate_end): the session's user becomes `userId` and remembers
   * `impersonator`, or (`userId` undefined) goes back to the impersonator. One statement each; false when the
   * session is gone or (ending) was no impersonation.
   */
  async impersonate(key: string, change: { userId: number; impersonator: number } | undefined): Promise<boolean> {
    const row = await this.db.selectFrom('sessions').select(['data', 'user_id']).where('session_key', '=', key).executeTakeFirst();
    if (!row) return false;
    const data = JSON.parse(row.data) as SessionData;
    let userId: number;
    if (change) {
      data.impersonator = change.impersonator;
      userId = change.userId;
    } else {
      if (data.impersonator === undefined) return false;
      userId = data.impersonator;
      delete data.impersonator;
    }
    // the flow a person was in belongs to whoever they were
    delete data.plan;
    const r = await this.db
      .updateTable('sessions')
      .set({ user_id: userId, data: JSON.stringify(data) })
      .where('session_key', '=', key)
      .where('data', '=', row.data)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /**
   * Writes the session if it changed, and (re)sets the cookies of a new key. `ifUnchanged`: a stored session is
   * written only if its row still holds what this request read and no request holds it (else this write is dropped).
   * `durable`: the request owes an earlier write durability (StageCall.durableLater): the save commits synchronously,
   * and a save with nothing to write writes anyway (`flush`).
   */
  async save(
    s: Session,
    req: FastifyRequest,
    reply: FastifyReply,
    opts: { ifUnchanged?: boolean; carry?: Carried; durable?: boolean } = {},
  ): Promise<void> {
    const { carry, durable = false } = opts;
    if (!s.dirty) {
      await carry?.run();
      if (durable) await this.flush(s);
      return;
    }
    const isNew = !s.key;
    if (!s.key) {
      s.token = newKey();
      s.key = sessionKeyOf(s.token);
    }
    const key = s.key;
    s.data.csrf ??= newKey();
    const data = JSON.stringify(s.data);
    if (!isNew && data === s.stored) {
      s.dirty = false;
      await carry?.run();
      if (durable) await this.flush(s);
      return;
    }
    const prev = s.stored;
    s.stored = data;
    const row = {
      last_seen: new Date().toISOString(),
      session_key: key,
      user_id: s.userId,
      data,
      expires: s.expires.toISOString(),
      last_ip: req.ip,
      last_user_agent: String(req.headers['user-agent'] ?? '').slice(0, 512),
      created: new Date().toISOString(),
      uuid: randomUUID(),
    };
    // a GET's write over what it read (compare-and-set); else a plain UPDATE, which can carry a write (PostgreSQL)
    const compareAndSet = opts.ifUnchanged && !s.lockedKey && prev !== undefined;
    const carried = this.shared && !isNew && !compareAndSet ? carry?.take?.() : undefined;
    if (carry && !carried) await carry.run();
    if (isNew) {
      // a login renames the anonymous row; when that row is gone (ended meanwhile) the session is created afresh
      const renamed = s.replaces ? await this.rotate({ old: s.replaces, lossless: s.replacesAnonymous && !durable ? 1 : 0, ...row }) : 0;
      if (renamed && s.replaces === s.lockedKey) this.letGo(s);
      if (!renamed) await this.upsert({ ...row, sync: durable ? 1 : 0 });
    } else if (compareAndSet) {
      await this.updateIfUnchanged({
        key: row.session_key,
        prev,
        now: row.last_seen,
        last_seen: row.last_seen,
        data: row.data,
      });
      if (durable) await this.flush(s);
    } else {
      const release = s.lockedKey === row.session_key;
      const held = release ? await this.settleLease(s) : '';
      const params: UpdateParams = {
        key: row.session_key,
        last_seen: row.last_seen,
        user_id: row.user_id,
        data: row.data,
        last_ip: row.last_ip,
        last_user_agent: row.last_user_agent,
        release: release ? 1 : 0,
        held,
        sync: durable ? 1 : 0,
      };
      if (carried) await this.saveCarrying(params, carried);
      else await this.update(params);
      if (release) this.letGo(s);
    }
    s.dirty = false;
    s.replaces = undefined;
    s.replacesAnonymous = undefined;
    if (isNew) this.setCookies(s, req, reply);
  }

  /**
   * PostgreSQL: a synchronous write to the session's row (or, with no row, to the configuration epoch's) that changes
   * nothing: when it returns, every commit before it is durable too (WAL is flushed in order; src/db/async-commit.ts)
   */
  async flush(s: Session): Promise<void> {
    if (!this.shared) return;
    const key = s.lockedKey ?? s.key ?? s.replaces;
    if (key && (await this.touchKey({ key }))) return;
    await this.db
      .updateTable('keystage_config_epoch')
      .set((eb) => ({ epoch: eb.ref('epoch') }))
      .where('id', '=', 1)
      .execute();
  }

  /** the session's UPDATE with `carried` ahead of it in the same statement (a data-modifying CTE) */
  private async saveCarrying(params: UpdateParams, carried: CarriedStatement): Promise<void> {
    let q = this.updateCarrying.get(carried.shape);
    if (!q) {
      const db = this.db;
      const mark = (n: string) => `carried_${n}`;
      q = hot<Record<string, unknown>, unknown>(db, [...UPDATE_NAMES, ...carried.names.map(mark)], (p) =>
        updateSession(
          db.with('carried', (qc) => carried.build(qc, Object.fromEntries(carried.names.map((n) => [n, p[mark(n)]]))) as never),
          p,
          this.shared,
        ),
      );
      this.updateCarrying.set(carried.shape, q);
    }
    await q({ ...params, ...Object.fromEntries(Object.entries(carried.params).map(([n, v]) => [`carried_${n}`, v])) });
  }

  private setCookies(s: Session, req: FastifyRequest, reply: FastifyReply) {
    const secure = isHttps(req);
    const maxAge = s.cookieMaxAge;
    reply.setCookie(SESSION_COOKIE, s.token!, { path: '/', httpOnly: true, sameSite: 'lax', secure, ...(maxAge ? { maxAge } : {}) });
    reply.setCookie(CSRF_COOKIE, s.data.csrf!, { path: '/', httpOnly: false, sameSite: 'lax', secure, ...(maxAge ? { maxAge } : {}) });
  }

  /**
   * Logs `userId` in: a NEW session key and CSRF token (the anonymous key is never reused), the old row deleted,
   * the flow state carried over. Both happen when the request saves the session (once, with the rest of the step).
   */
  async login(s: Session, userId: number, expires: Date, cookieMaxAge: number | undefined, bound?: Bound) {
    const old = s.key;
    // (the row `old` names: anonymous unless someone was logged in to it; a second login in the request keeps the first's)
    if (old && s.replaces === undefined) s.replacesAnonymous = s.userId === null;
    const cap = Date.now() + this.limits.maxAgeMs;
    s.key = undefined;
    s.userId = userId;
    s.expires = new Date(Math.min(expires.getTime(), cap));
    s.cookieMaxAge = cookieMaxAge === undefined ? undefined : Math.min(cookieMaxAge, Math.floor(this.limits.maxAgeMs / 1000));
    s.data.csrf = undefined;
    s.data.bound = bound;
    s.data.binding = undefined;
    s.dirty = true;
    if (old) s.replaces = s.replaces ?? old;
  }

  /**
   * User switching (src/sessions/user-switching.ts): the request goes on in a new, unsaved session carrying the flow
   * (its plan and page query), and the login it was in stays as it is, without the flow, for the browser to switch
   * back to. Its row is let go now; the next `login` starts a new row instead of renaming this one.
   */
  async detach(s: Session): Promise<void> {
    const key = s.key;
    if (!key) return;
    const { plan, query, ...rest } = s.data;
    await this.db
      .updateTable('sessions')
      .set({ data: JSON.stringify(rest) })
      .where('session_key', '=', key)
      .execute();
    if (s.lockedKey === key) {
      const held = await this.settleLease(s);
      this.letGo(s);
      await this.unlockKey({ key, held });
    }
    s.key = undefined;
    s.userId = null;
    s.stored = undefined;
    s.replaces = undefined;
    s.replacesAnonymous = undefined;
    s.data = { plan, query };
    s.expires = new Date(Date.now() + this.limits.anonymousMs);
    s.dirty = true;
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
    const ended = s.key;
    const ending: SessionEnding = { userId: s.userId, by: 'user' };
    if (s.key) await this.db.deleteFrom('sessions').where('session_key', '=', s.key).execute();
    if (s.lockedKey === s.key) this.letGo(s);
    s.key = undefined;
    s.userId = null;
    s.data = { plan: s.data.plan, query: s.data.query };
    s.dirty = true;
    reply.clearCookie(SESSION_COOKIE, { path: '/' });
    reply.clearCookie(CSRF_COOKIE, { path: '/' });
    if (ended) for (const listener of this.logoutListeners) await listener(ended, s, reply.request, ending).catch(() => {});
  }

  private readonly logoutListeners: LogoutListener[] = [];

  /**
   * a session ended other than by its own logout (deleted through the API, a lockdown, a login replacing it): what
   * lives as long as it ends too; `ending` says whose it was and who ended it
   */
  async ended(sessionKey: string, ending?: SessionEnding): Promise<void> {
    for (const listener of this.logoutListeners) await listener(sessionKey, undefined, undefined, ending).catch(() => {});
  }

  /** `ended` for each of a user's sessions a write deleted (a password change, a deactivation), after its commit */
  async endedAll(sessionKeys: readonly string[], ending: SessionEnding): Promise<void> {
    for (const key of sessionKeys) await this.ended(key, ending);
  }

  /**
   * Every session of `userId` ended now (one DELETE), each told as a logout: before the person is deleted, so what
   * they signed into hears of it while the person and the tokens the deletion takes along still exist
   */
  async endAllOf(userId: number, by: SessionEnding['by']): Promise<void> {
    const ended = await this.db.deleteFrom('sessions').where('user_id', '=', userId).returning('session_key').execute();
    await this.endedAll(
      ended.map((r) => r.session_key),
      { userId, by },
    );
  }

  /**
   * `listener` runs after each logout (`destroy`) with the ended session's key: what lives as long as the session
   * ends with it (an OAuth2 provider's access tokens and back-channel logout). It also gets the session as it
   * continues (its flow plan kept: front-channel logout adds a stage to it) and the request logging out — neither
   * when the session was ended from elsewhere (`ended`: deleted through the API). `ending` (when known) names the
   * session's user and who ended it (CAEP's `initiating_entity`). Its failures do not stop the logout.
   */
  onLogout(listener: LogoutListener): void {
    this.logoutListeners.push(listener);
  }
}
