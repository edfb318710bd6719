/**
 * `last_auth_threshold`: a signed cookie remembering a successful MFA check, bound (beyond authentik) to the user,
 * the device class and the device, and to this stage; ignored when the threshold was shortened since.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';

export const MFA_COOKIE = 'authentik_mfa';

interface Claim {
  u: number;
  c: string;
  d: number;
  s: string;
  e: number;
}

export function setMfaCookie(reply: FastifyReply, req: FastifyRequest, claim: Omit<Claim, 'e'>, thresholdMs: number) {
  const e = Date.now() + thresholdMs;
  const value = Buffer.from(JSON.stringify({ ...claim, e })).toString('base64url');
  reply.setCookie(MFA_COOKIE, value, {
    signed: true,
    path: '/',
    httpOnly: true,
    sameSite: 'lax',
    secure: req.protocol === 'https',
    expires: new Date(e),
  });
}

/** the claim, when the cookie is authentic, unexpired, for this stage and user, and within the current threshold */
export function readMfaCookie(req: FastifyRequest, stage: string, userId: number, thresholdMs: number): Claim | undefined {
  const raw = req.cookies?.[MFA_COOKIE];
  if (!raw || raw.length > 1024) return undefined;
  const un = req.unsignCookie(raw);
  if (!un.valid || !un.value) return undefined;
  try {
    const c = JSON.parse(Buffer.from(un.value, 'base64url').toString('utf8')) as Claim;
    const now = Date.now();
    if (c.s !== stage || c.u !== userId || !(c.e > now) || c.e > now + thresholdMs) return undefined;
    return c;
  } catch {
    return undefined;
  }
}
