/**
 * PKCE (RFC 7636) as authentik: the authorization request's `code_challenge_method` defaults to `plain`, `plain` and
 * `S256` are accepted; at the token endpoint a code with a challenge needs the matching verifier, and a verifier for a
 * code without a challenge is refused too (no downgrade).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { PKCE_METHOD_PLAIN, PKCE_METHOD_S256 } from './constants.js';

export const PKCE_METHODS: readonly string[] = [PKCE_METHOD_PLAIN, PKCE_METHOD_S256];

/** the method of an authorization request: absent means `plain` */
export const challengeMethodOf = (raw: string | undefined): string => raw ?? PKCE_METHOD_PLAIN;

/** is the challenge method acceptable? (only asked when a challenge was sent) */
export const isSupportedChallengeMethod = (method: string): boolean => PKCE_METHODS.includes(method);

/** S256: BASE64URL(SHA256(ASCII(verifier))) without padding */
export const s256 = (verifier: string): string => createHash('sha256').update(verifier, 'latin1').digest('base64url');

function equal(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

/** the stored challenge of a code, as the code row keeps it */
export interface StoredChallenge {
  code_challenge: string | null;
  code_challenge_method: string | null;
}

/** does the token request's verifier satisfy the code's challenge? (false means `invalid_grant`) */
export function verifyPkce(code: StoredChallenge, verifier: string | undefined): boolean {
  if (!code.code_challenge) return !verifier;
  if (!verifier) return false;
  // authentik encodes the verifier as ASCII (RFC 7636's unreserved characters); anything else cannot match
  if (/[^\x00-\x7f]/.test(verifier)) return false;
  const computed = code.code_challenge_method === PKCE_METHOD_S256 ? s256(verifier) : verifier;
  return equal(computed, code.code_challenge);
}
