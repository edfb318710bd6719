/**
 * `last_auth_threshold`: a signed cookie remembering a successful MFA check, bound (beyond authentik) to the user,
 * the device class and the device, to this stage and to the user's password change date (a password set ends it);
 * ignored when the threshold was shortened since.
 */
import { createHash } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const MFA_COOKIE = 'authentik_mfa';

interface Claim {
  u: number;
  c: string;
  d: number;
  s: string;
  /** stamp of the user's password change date */
  p: string;
  e: number;
}

/** the user a claim is about: its id and when its password was last set */
export interface MfaCookieUser {
  id: number;
  password_change_date: string | Date;
}

const passwordStamp = (u: MfaCookieUser) =>
  createHash('sha256')
    .update(`${u.id}:${new Date(u.password_change_date).toISOString()}`)
    .digest('base64url')
    .slice(0, 22);

export function setMfaCookie(
  reply: FastifyReply,
  req: FastifyRequest,
  user: MfaCookieUser,
  claim: Omit<Claim, 'e' | 'u' | 'p'>,
  thresholdMs: number,
) {
  const e = Date.now() + thresholdMs;
  const value = Buffer.from(JSON.stringify({ u: user.id, ...claim, p: passwordStamp(user), e })).toString('base64url');
  reply.setCookie(MFA_COOKIE, value, {
    signed: true,
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: req.protocol === 'https',
    expires: new Date(e),
  });
}

/**
 * the claim, when the cookie is authentic, unexpired, for this stage and user, issued since the user's password was
 * last set, and within the current threshold
 */
export function readMfaCookie(req: FastifyRequest, stage: string, user: MfaCookieUser, thresholdMs: number): Claim | undefined {
  const raw = req.cookies?.[MFA_COOKIE];
  if (!raw || raw.length > 1024) return undefined;
  const un = req.unsignCookie(raw);
  if (!un.valid || !un.value) return undefined;
  try {
    const c = JSON.parse(Buffer.from(un.value, 'base64url').toString('utf8')) as Claim;
    const now = Date.now();
    if (c.s !== stage || c.u !== user.id || c.p !== passwordStamp(user) || !(c.e > now) || c.e > now + thresholdMs) return undefined;
    return c;
  } catch {
    return undefined;
  }
}
