/**
 * Failed-authentication records shared by every place a secret is checked (password stage, password embedded in
 * identification, MFA codes), kept in the database so every node sees them.
 *
 * Three counters: identifier+IP (15 min), identifier (1 h), IP (1 h). An identifier+IP pair is slowed down after a
 * few failures and refused after `accountIpLimit`; an identifier is refused after `accountLimit` failures per hour
 * (ASVS 2.2.1) — except from IPs the user has logged in from before, so an attacker elsewhere cannot lock a user
 * out from their usual IP; an IP is refused after `ipLimit` failures per hour (credential stuffing). Identifiers
 * are counted whether or not an account exists, so refusals reveal nothing. A successful login resets the
 * identifier's counters.
 */
import { sql } from 'kysely';
import { hot } from '../db/hot.js';
import type { DB } from '../db/index.js';
import type { LockoutConfig } from '../config.js';

const PAIR_WINDOW_MS = 15 * 60_000;
const HOUR_MS = 60 * 60_000;
const MAX_DELAY_MS = 3000;

export const THROTTLED_MESSAGE = 'Too many failed attempts. Please wait a while before trying again.';

export interface LockoutVerdict {
  blocked: boolean;
  /** how long to wait before answering */
  delayMs: number;
}

export const normalizeIdentifier = (id: string) => id.normalize('NFKC').trim().toLowerCase().slice(0, 256);

type Row = { scope: string; key: string; count: number; window_start: string };

export class Lockout {
  private readonly rows;
  private readonly bump;
  private readonly clear;
  private readonly known;
  private readonly remember;

  constructor(
    db: DB,
    private readonly cfg: LockoutConfig,
  ) {
    // the statements of every login and every failure, compiled once
    this.bump = hot<{ scope: string; key: string; now: string; cutoff: string }, unknown>(db, ['scope', 'key', 'now', 'cutoff'], (p) =>
      db
        .insertInto('auth_failures')
        .values({ scope: p.scope, key: p.key, count: 1, window_start: p.now })
        .onConflict((oc) =>
          oc.columns(['scope', 'key']).doUpdateSet({
            count: sql<number>`CASE WHEN auth_failures.window_start < ${p.cutoff} THEN 1 ELSE auth_failures.count + 1 END`,
            window_start: sql<string>`CASE WHEN auth_failures.window_start < ${p.cutoff} THEN ${p.now} ELSE auth_failures.window_start END`,
          }),
        ),
    );
    this.clear = hot<{ account: string; pair: string }, unknown>(db, ['account', 'pair'], (p) =>
      db
        .deleteFrom('auth_failures')
        .where((eb) =>
          eb.or([eb.and([eb('scope', '=', 'account'), eb('key', '=', p.account)]), eb.and([eb('scope', '=', 'account_ip'), eb('key', '=', p.pair)])]),
        ),
    );
    this.known = hot<{ user: number; ip: string }, { ip: string }>(db, ['user', 'ip'], (p) =>
      db.selectFrom('login_ips').select('ip').where('user_id', '=', p.user).where('ip', '=', p.ip),
    );
    this.remember = hot<{ user: number; ip: string; now: string }, unknown>(db, ['user', 'ip', 'now'], (p) =>
      db
        .insertInto('login_ips')
        .values({ user_id: p.user, ip: p.ip, last_success: p.now })
        .onConflict((oc) => oc.columns(['user_id', 'ip']).doUpdateSet({ last_success: p.now })),
    );
    this.rows = hot<{ pair: string; account: string; ip: string }, Row>(db, ['pair', 'account', 'ip'], (p) =>
      db
        .selectFrom('auth_failures')
        .selectAll()
        .where((eb) =>
          eb.or([
            eb.and([eb('scope', '=', 'account_ip'), eb('key', '=', p.pair)]),
            eb.and([eb('scope', '=', 'account'), eb('key', '=', p.account)]),
            eb.and([eb('scope', '=', 'ip'), eb('key', '=', p.ip)]),
          ]),
        ),
    );
  }

  private keys(identifier: string, ip: string) {
    const id = normalizeIdentifier(identifier);
    return [
      { scope: 'account_ip', key: `${id}|${ip}`, window: PAIR_WINDOW_MS },
      { scope: 'account', key: id, window: HOUR_MS },
      { scope: 'ip', key: ip, window: HOUR_MS },
    ];
  }

  async check(identifier: string, ip: string, userId?: number | null): Promise<LockoutVerdict> {
    const [pair, account, byIp] = this.keys(identifier, ip);
    const now = Date.now();
    const rows = await this.rows({ pair: pair!.key, account: account!.key, ip: byIp!.key });
    const count = (k: { scope: string; key: string; window: number }) => {
      const r = rows.find((x) => x.scope === k.scope && x.key === k.key);
      return r && now - new Date(r.window_start).getTime() < k.window ? r.count : 0;
    };
    const pairCount = count(pair!);
    let blocked = pairCount >= this.cfg.accountIpLimit || count(byIp!) >= this.cfg.ipLimit;
    if (!blocked && count(account!) >= this.cfg.accountLimit) blocked = !(userId && (await this.knownIp(userId, ip)));
    const over = pairCount - this.cfg.slowAfter;
    const delayMs = over >= 0 ? Math.min(MAX_DELAY_MS, 250 * 2 ** over) : 0;
    return { blocked, delayMs };
  }

  /** whether the user has logged in from this IP before */
  async knownIp(userId: number, ip: string): Promise<boolean> {
    return (await this.known({ user: userId, ip })).length > 0;
  }

  /** counts one failure on all three counters (atomic upserts; a counter outside its window restarts at 1) */
  async fail(identifier: string, ip: string): Promise<void> {
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    for (const k of this.keys(identifier, ip)) await this.bump({ scope: k.scope, key: k.key, now: nowIso, cutoff: new Date(now - k.window).toISOString() });
  }

  /** a successful login: the identifier's counters reset, the IP becomes known for the user */
  async succeed(identifiers: string[], userId: number, ip: string): Promise<void> {
    for (const identifier of new Set(identifiers.map(normalizeIdentifier))) await this.clear({ account: identifier, pair: `${identifier}|${ip}` });
    await this.remember({ user: userId, ip, now: new Date().toISOString() });
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
