/**
 * `at_hash` and `c_hash` as authentik computes them (models.py `AccessToken.at_hash`, `AuthorizationCode.c_hash`):
 * the left half of the SHA-256 of the ASCII value, base64url without padding — SHA-256 whatever the signing
 * algorithm, as authentik does.
 */
import { createHash } from 'node:crypto';

export const leftHalfHash = (value: string): string =>
  createHash('sha256').update(value, 'latin1').digest().subarray(0, 16).toString('base64url');

/** the access token's hash for the ID token's `at_hash` */
export const atHash = (accessToken: string) => leftHalfHash(accessToken);

/** the authorization code's hash for the ID token's `c_hash` */
export const cHash = (code: string) => leftHalfHash(code);
