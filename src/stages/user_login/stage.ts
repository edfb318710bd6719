/**
 * User login at run time: attach the pending user to a NEW session (the anonymous session id is never reused),
 * with the configured lifetime, optionally ending the user's other sessions.
 */
import { hot, perDatabase } from '../../db/hot.js';
import type { DB } from '../../db/index.js';
import { reputationSettings, updateReputation } from '../../auth/reputation.js';
import { parseDuration } from '../../rest/duration.js';
import { boundAt } from '../../sessions/session-binding.js';
import { browserToken } from '../../sessions/user-switching.js';
import { isPlaceholder } from '../../flows/engine/context.js';
import { parseResponse } from '../../flows/engine/response.js';
import { deny, invalid, ok, show, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import { UserLoginChallengeResponseRequest, type UserLoginChallenge } from './challenge.js';
import type { StageConfig } from '../types.js';
import type { userLoginSchema } from './schema.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type UserLoginConfig = StageConfig<typeof userLoginSchema>;

/** server-side lifetime of a "browser session" login (session_duration 0) */
const BROWSER_SESSION_MS = 86_400_000;

const responseProps = responseFields(UserLoginChallengeResponseRequest);
const challenge: StageChallenge<typeof UserLoginChallenge> = { component: 'ak-stage-user-login' };

/** last_login, written at every login: compiled once per database */
const touches = perDatabase((db) =>
  hot<{ id: number; now: string }, unknown>(db, ['id', 'now'], (p) =>
    db.updateTable('users').set({ last_login: p.now }).where('id', '=', p.id),
  ),
);
const touch = (db: DB, id: number, trx: DB) => touches(db)({ id, now: new Date().toISOString() }, trx);

async function login(c: StageCall<UserLoginConfig>, rememberMe: boolean): Promise<Outcome> {
  const pending = c.ctx.pendingUser;
  if (!pending || isPlaceholder(pending)) return deny();
  // (the row read once per request for all its stages)
  const user = await c.pendingUser();
  if (!user || !user.is_active) return deny();
  if (c.ctx.userSwitch) {
    const refused = await leaveForSwitch(c, user.id, c.ctx.userSwitch);
    if (refused) return refused;
  }
  const duration = (parseDuration(c.config.session_duration) ?? 0) + (rememberMe ? (parseDuration(c.config.remember_me_offset) ?? 0) : 0);
  const expires = new Date(Date.now() + (duration > 0 ? duration : BROWSER_SESSION_MS));
  await c.svc.sessions.login(
    c.session,
    user.id,
    expires,
    duration > 0 ? Math.floor(duration / 1000) : undefined,
    boundAt(c.config.network_binding, c.config.geoip_binding, c.clientIp),
  );
  if (c.config.terminate_other_sessions) await c.svc.sessions.terminateOthers(user.id, c.session.key);
  const knownBrowser = knownDevice(c, user.id);
  rememberDevice(c, user.id);
  // what a login records, in one transaction: one commit instead of one per statement (a commit is most of a small
  // write's cost), and never part of it. The user's row first, so two logins of one user take their turns.
  const db = c.svc.db;
  const identifiers = [user.username, c.ctx.pendingUserIdentifier ?? user.username];
  // the reservations of this request's passed checks (a password, a code) whose counters this login clears are given
  // back in its transaction; if it fails, at the request's end as any other
  const releases = c.takeReleases((a) => c.svc.lockout.clearedBy(a, identifiers, c.clientIp));
  // (read before the transaction: with SQLite a read outside it would wait for it)
  const reputation = await reputationSettings(db, c.svc.config.reputation);
  const brand = await c.svc.events.brandFor(c.req);
  await db
    .transaction()
    .execute(async (trx) => {
      await touch(db, user.id, trx);
      const { ipKnownBefore } = await c.svc.lockout.succeed(user.id, c.clientIp, trx);
      // known_device: this browser's cookie, else a login from this IP before (the upsert above says)
      c.ctx.authMethodArgs = {
        ...c.ctx.authMethodArgs,
        known_device: c.ctx.authMethodArgs?.known_device ?? (knownBrowser || ipKnownBefore),
      };
      await c.svc.events.emit(
        'login',
        {
          user: { pk: user.id, username: user.username, email: user.email },
          req: c.req,
          brand,
          context: { auth_method: c.ctx.authMethod ?? 'password', auth_method_args: c.ctx.authMethodArgs, flow: c.flow.slug },
        },
        trx,
      );
      // authentik's user_logged_in signal raises the reputation of (username, IP)
      await updateReputation(db, reputation, c.clientIp, user.username, 1, trx, c.svc.geoip);
      // last: the counters this login resets and the IP's count, which every check of the identifier or from this IP
      // takes, are held for the shortest time
      await c.svc.lockout.settleAtLogin(identifiers, c.clientIp, releases, trx);
    })
    .catch((e) => {
      for (const a of releases) c.releaseLater(a);
      throw e;
    });
  // (a synchronous commit: what the request wrote before it is durable too — a TOTP step taken, StageCall.durableLater)
  c.durableNow();
  c.svc.metrics.logins.inc({ flow: c.flow.slug });
  return ok();
}

/**
 * User switching (src/flows/user-switch.ts): a switch needs its target — a live login of this user held by this
 * browser — still there; the browser's other logins of this user end (the new login replaces them); and when someone
 * else is logged in, their login stays for the browser to switch back to while this one starts a new session.
 */
async function leaveForSwitch(
  c: StageCall<UserLoginConfig>,
  userId: number,
  sw: NonNullable<StageCall<UserLoginConfig>['ctx']['userSwitch']>,
): Promise<Outcome | undefined> {
  const db = c.svc.db;
  const token = await browserToken(c.req, c.svc.secretKey);
  if (sw.target) {
    const live =
      token &&
      (await db
        .selectFrom('sessions')
        .select('session_key')
        .where('session_key', '=', sw.target)
        .where('user_id', '=', userId)
        .where('switch_token', '=', token)
        .where('expires', '>', new Date().toISOString())
        .executeTakeFirst());
    if (!live) return deny('The selected session is no longer available. Please try again.');
  }
  if (c.session.userId !== null && c.session.userId !== userId) await c.svc.sessions.detach(c.session);
  if (token) {
    const replaced = await db
      .deleteFrom('sessions')
      .where('user_id', '=', userId)
      .where('switch_token', '=', token)
      .$if(c.session.key !== undefined, (q) => q.where('session_key', '<>', c.session.key!))
      .returning('session_key')
      .execute();
    // what lives as long as those logins (an application's tokens, back-channel logout) ends with them
    for (const r of replaced) await c.svc.sessions.ended(r.session_key, { userId, by: 'user' });
  }
  return undefined;
}

const DEVICE_COOKIE = 'authentik_device';

/** the signed known-device cookie names this user and is unexpired */
function knownDevice(c: StageCall<UserLoginConfig>, userId: number): boolean {
  const raw = c.req.cookies?.[DEVICE_COOKIE];
  if (!raw || raw.length > 512) return false;
  const un = c.req.unsignCookie(raw);
  if (!un.valid || !un.value) return false;
  const [sub, exp] = un.value.split('.');
  return sub === String(userId) && Number(exp) > Date.now();
}

/** `remember_device`: a signed cookie marking this browser as one the user logged in from */
function rememberDevice(c: StageCall<UserLoginConfig>, userId: number) {
  const ms = parseDuration(c.config.remember_device) ?? 0;
  if (ms < 1000) return;
  const exp = Date.now() + ms;
  c.reply.setCookie(DEVICE_COOKIE, `${userId}.${exp}`, {
    signed: true,
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: c.req.protocol === 'https',
    expires: new Date(exp),
  });
}

const offsetOn = (c: StageCall<UserLoginConfig>) => (parseDuration(c.config.remember_me_offset) ?? 0) > 0;

export const userLoginRuntime: StageRuntime<UserLoginConfig> = {
  component: 'ak-stage-user-login',
  withUserInfo: true,
  async challenge(c) {
    return offsetOn(c) ? show(challenge) : login(c, false);
  },
  async respond(c, body) {
    if (!offsetOn(c)) return login(c, false);
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(challenge, parsed.errors);
    return login(c, parsed.data.remember_me as boolean);
  },
};
