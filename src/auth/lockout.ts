/**
 * Failed-authentication records shared by every place a secret is checked (password stage, password embedded in
 * identification, app passwords, MFA codes), kept in the database so every node sees them.
 *
 * Three counters: identifier+IP (15 min), identifier (1 h), IP (1 h). An identifier+IP pair is slowed down after a
 * few failures and refused after `accountIpLimit`; an identifier is refused after `accountLimit` failures per hour
 * (ASVS 2.2.1) — except from IPs the user has logged in from before, so an attacker elsewhere cannot lock a user
 * out from their usual IP; an IP is refused after `ipLimit` failures per hour (credential stuffing). Identifiers
 * are counted whether or not an account exists, so refusals reveal nothing. A successful login resets the
 * identifier's counters.
 *
 * A check is *reserved* before the secret is looked at: one atomic upsert counts it on all three counters and
 * returns the counts, so however many checks arrive at once (on however many nodes), only those within the limits
 * are evaluated; a refused reservation is taken back at once, a successful check releases its reservation, and a
 * failed one simply stays counted. In a flow, a passed check's reservation is given back when its request ends, or by
 * a login in the same request inside the login's transaction (`settleAtLogin`; StageCall.releaseLater).
 */
import { sql, type QueryCreator } from 'kysely';
import { type Hot, hot } from '../db/hot.js';
import { asyncCommit } from '../db/async-commit.js';
import type { DB } from '../db/index.js';
import type { Database } from '../db/types.js';
import type { Carried } from '../sessions/sessions.js';
import type { LockoutConfig } from '../config.js';

const PAIR_WINDOW_MS = 15 * 60_000;
const HOUR_MS = 60 * 60_000;
const MAX_DELAY_MS = 3000;

/** a counter's count less the reservation given back (never below 0) */
const takeOneBack = sql<number>`CASE WHEN auth_failures.count > 0 THEN auth_failures.count - 1 ELSE 0 END`;

/**
 * whether a counter starts afresh: its window has passed, or a login reset it to 0 (`settleAtLogin` keeps the row at 0
 * rather than deleting it: a fresh row's window starts at its first failure, and so does a reset one's)
 */
const restarts = (pairCutoff: string, hourCutoff: string) =>
  sql`(auth_failures.count <= 0 OR auth_failures.window_start < (CASE WHEN auth_failures.scope = 'account_ip' THEN ${pairCutoff} ELSE ${hourCutoff} END))`;

export const THROTTLED_MESSAGE = 'Too many failed attempts. Please wait a while before trying again.';

export interface LockoutVerdict {
  blocked: boolean;
  /** how long to wait before answering */
  delayMs: number;
}

export const normalizeIdentifier = (id: string) => id.normalize('NFKC').trim().toLowerCase().slice(0, 256);

type Counted = { scope: string; key: string; count: number | string };

/** the three counters a check is counted on */
export interface LockoutKeys {
  pair: string;
  account: string;
  ip: string;
}

/** a reserved check: `release` when the secret was right (a failure stays counted) */
export interface Attempt extends LockoutVerdict {
  release(): Promise<void>;
  /** marks the reservation given back, by a statement that carries the give-back (`carryReleases`); false if it was */
  claim(): boolean;
  /** the counters it was counted on (`settleAtLogin` gives it back from them) */
  readonly keys: Readonly<LockoutKeys>;
}

type ReleaseParams = { pair: string; account: string; ip: string; now: string };
const RELEASE_NAMES = ['pair', 'account', 'ip', 'now'] as const;

/**
 * a reservation given back: its three counters less one. An upsert over the rows in the order a reservation takes
 * them (never an UPDATE whose row order is the planner's), so concurrent reservations and releases cannot deadlock
 */
const giveBack = (qc: QueryCreator<Database>, p: Record<keyof ReleaseParams, any>) =>
  qc
    .insertInto('auth_failures')
    .values([
      { scope: 'account_ip', key: p.pair, count: 0, window_start: p.now },
      { scope: 'account', key: p.account, count: 0, window_start: p.now },
      { scope: 'ip', key: p.ip, count: 0, window_start: p.now },
    ])
    .onConflict((oc) => oc.columns(['scope', 'key']).doUpdateSet({ count: takeOneBack }));

export class Lockout {
  private readonly reserveAll;
  private readonly releaseAll;
  /** `settleAtLogin`'s statement by shape (how many identifiers, whether an IP's reservations are given back) */
  private readonly settleBy = new Map<string, Hot<Record<string, string | number>, unknown>>();
  private readonly known;
  private readonly remember;

  constructor(
    private readonly db: DB,
    private readonly cfg: LockoutConfig,
    /**
     * PostgreSQL: reservations and give-backs commit asynchronously (src/db/async-commit.ts: a crash may lose the
     * last fraction of a second's counts, never half of one); a login's reset stays in its synchronous transaction
     */
    postgres = false,
  ) {
    // the statements of every check, compiled once. One upsert counts the attempt on all three counters (a counter
    // outside its window restarts at 1) and returns the new counts.
    const p3 = ['pair', 'account', 'ip', 'now', 'pairCutoff', 'hourCutoff'] as const;
    this.reserveAll = hot<Record<(typeof p3)[number], string>, Counted>(db, [...p3], (p) =>
      db
        .insertInto('auth_failures')
        .values([
          { scope: 'account_ip', key: p.pair, count: 1, window_start: p.now },
          { scope: 'account', key: p.account, count: 1, window_start: p.now },
          { scope: 'ip', key: p.ip, count: 1, window_start: p.now },
        ])
        .onConflict((oc) =>
          oc.columns(['scope', 'key']).doUpdateSet({
            count: sql<number>`CASE WHEN ${restarts(p.pairCutoff, p.hourCutoff)} THEN 1 ELSE auth_failures.count + 1 END`,
            window_start: sql<string>`CASE WHEN ${restarts(p.pairCutoff, p.hourCutoff)} THEN ${p.now} ELSE auth_failures.window_start END`,
          }),
        )
        .returning(['scope', 'key', 'count'])
        .$if(postgres, (q) => q.returning(asyncCommit())),
    );
    // taking a reservation back locks the three rows in the same order as taking it (an upsert over the same rows,
    // never an UPDATE whose row order is the planner's), so concurrent reservations and releases cannot deadlock
    this.releaseAll = hot<ReleaseParams, unknown>(db, [...RELEASE_NAMES], (p) =>
      giveBack(db, p).$if(postgres, (q) => q.returning(asyncCommit())),
    );
    this.known = hot<{ user: number; ip: string }, { ip: string }>(db, ['user', 'ip'], (p) =>
      db.selectFrom('login_ips').select('ip').where('user_id', '=', p.user).where('ip', '=', p.ip),
    );
    // the count it returns says whether the IP was known before this login (1: it was not)
    this.remember = hot<{ user: number; ip: string; now: string }, { logins: number }>(db, ['user', 'ip', 'now'], (p) =>
      db
        .insertInto('login_ips')
        .values({ user_id: p.user, ip: p.ip, last_success: p.now, logins: 1 })
        .onConflict((oc) => oc.columns(['user_id', 'ip']).doUpdateSet({ last_success: p.now, logins: sql`login_ips.logins + 1` }))
        .returning('logins'),
    );
  }

  private keys(identifier: string, ip: string): LockoutKeys {
    const id = normalizeIdentifier(identifier);
    return { pair: `${id}|${ip}`, account: id, ip };
  }

  /**
   * Reserves one check of `identifier`'s secret from `ip`, before the secret is looked at. Refused (`blocked`) when
   * the checks already counted reach a limit; the refused reservation is taken back. Otherwise the caller checks the
   * secret, after waiting `delayMs`, and calls `release` if it was right.
   */
  async reserve(identifier: string, ip: string, userId?: number | null): Promise<Attempt> {
    const keys = this.keys(identifier, ip);
    const rows = await this.count(keys);
    // the checks counted before this one
    const before = (scope: string) => Number(rows.find((r) => r.scope === scope)?.count ?? 1) - 1;
    const pairCount = before('account_ip');
    let blocked = pairCount >= this.cfg.accountIpLimit || before('ip') >= this.cfg.ipLimit;
    if (!blocked && before('account') >= this.cfg.accountLimit) blocked = !(userId && (await this.knownIp(userId, ip)));
    let released = false;
    const claim = () => !released && (released = true);
    const release = async () => {
      if (claim()) await this.releaseAll({ ...keys, now: new Date().toISOString() });
    };
    if (blocked) await release();
    const over = pairCount - this.cfg.slowAfter;
    const delayMs = over < 0 ? 0 : Math.min(MAX_DELAY_MS, 250 * 2 ** over);
    return { blocked, delayMs, release, claim, keys };
  }

  /** whether the user has logged in from this IP before */
  async knownIp(userId: number, ip: string): Promise<boolean> {
    return (await this.known({ user: userId, ip })).length > 0;
  }

  /** counts one check on all three counters; returns the new counts */
  private count(keys: { pair: string; account: string; ip: string }) {
    const now = Date.now();
    return this.reserveAll({
      ...keys,
      now: new Date(now).toISOString(),
      pairCutoff: new Date(now - PAIR_WINDOW_MS).toISOString(),
      hourCutoff: new Date(now - HOUR_MS).toISOString(),
    });
  }

  /** counts one failure that was not reserved beforehand (a WebAuthn assertion or Duo push that failed) */
  async fail(identifier: string, ip: string): Promise<void> {
    await this.count(this.keys(identifier, ip));
  }

  /**
   * a successful login from `ip`: the IP becomes known for the user (and the answer says whether it was known
   * before). `trx`: the login's transaction
   */
  async succeed(userId: number, ip: string, trx?: DB): Promise<{ ipKnownBefore: boolean }> {
    const [row] = await this.remember({ user: userId, ip, now: new Date().toISOString() }, trx);
    return { ipKnownBefore: Number(row?.logins ?? 1) > 1 };
  }

  /** whether a login of `identifiers` from `ip` resets the identifier counters `attempt` counted on (`settleAtLogin`) */
  clearedBy(attempt: Attempt, identifiers: string[], ip: string): boolean {
    return attempt.keys.ip === ip && identifiers.some((i) => this.keys(i, ip).pair === attempt.keys.pair);
  }

  /**
   * The give-back of reservations of checks that passed (a request's end, no login in it) as a write the session's
   * save can carry in its own statement (PostgreSQL: one statement, round trip and commit fewer per such request);
   * one reservation is carried, several are given back on their own, one statement each.
   */
  carryReleases(attempts: readonly Attempt[]): Carried | undefined {
    if (!attempts.length) return undefined;
    const [only] = attempts;
    return {
      run: async () => {
        for (const a of attempts) await a.release();
      },
      take:
        attempts.length === 1
          ? () =>
              only!.claim()
                ? {
                    shape: 'lockout.giveBack',
                    names: [...RELEASE_NAMES],
                    params: { ...only!.keys, now: new Date().toISOString() },
                    build: giveBack,
                  }
                : undefined
          : undefined,
    };
  }

  /**
   * The end of a successful login, inside its transaction `trx`, in one statement: the counters of `identifiers`
   * (with `ip`) reset to 0, and the reservations of checks that passed earlier in the login's request and whose
   * identifier counters this resets (`clearedBy`) given back from the IP's count. One upsert over the rows in the
   * order a reservation takes them (identifiers sorted, each one's pair row before its account row, the IP's last),
   * so logins and reservations of the same identifiers cannot deadlock; last in the transaction, so these rows,
   * which every check of the identifier or from the IP takes, are held for the shortest time.
   */
  async settleAtLogin(identifiers: string[], ip: string, attempts: readonly Attempt[], trx: DB): Promise<void> {
    const ids = [...new Set(identifiers.map(normalizeIdentifier))].sort();
    const n = attempts.length;
    const params: Record<string, string | number> = { now: new Date().toISOString() };
    ids.forEach((id, i) => {
      params[`pair${i}`] = `${id}|${ip}`;
      params[`account${i}`] = id;
    });
    if (n) Object.assign(params, { ip, n });
    await this.settleStatement(ids.length, n > 0)(params, trx);
  }

  private settleStatement(identifiers: number, giveBack: boolean) {
    const shape = `${identifiers}:${giveBack}`;
    let q = this.settleBy.get(shape);
    if (!q) {
      const db = this.db;
      const idNames = Array.from({ length: identifiers }, (_, i) => [`pair${i}`, `account${i}`]).flat();
      q = hot<Record<string, string | number>, unknown>(db, [...idNames, 'now', ...(giveBack ? ['ip', 'n'] : [])], (p) =>
        db
          .insertInto('auth_failures')
          .values([
            ...idNames.map((name) => ({
              scope: name.startsWith('pair') ? 'account_ip' : 'account',
              key: p[name],
              count: 0,
              window_start: p.now,
            })),
            ...(giveBack ? [{ scope: 'ip', key: p.ip, count: 0, window_start: p.now }] : []),
          ])
          .onConflict((oc) =>
            oc.columns(['scope', 'key']).doUpdateSet({
              count: giveBack
                ? sql<number>`CASE WHEN auth_failures.scope <> 'ip' THEN 0 WHEN auth_failures.count > ${p.n} THEN auth_failures.count - ${p.n} ELSE 0 END`
                : sql<number>`0`,
            }),
          ),
      );
      this.settleBy.set(shape, q);
    }
    return q;
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
