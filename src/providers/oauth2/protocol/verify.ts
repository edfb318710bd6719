/**
 * Verifying a JWT someone presents (an `id_token_hint`, a client assertion, a token to introspect) against keys we
 * trust. The algorithm comes from the key, never from the token: each key is pinned to one algorithm (given, or
 * derived from the key's type — RSA → RS256, EC → ES256/384/512 by curve, bytes → HS256), `alg: none` is refused,
 * and a token whose header names another algorithm than its key's (HS256 "signed" with an RSA public key, RFC 9700
 * §4.5) is refused before any signature is computed. A `kid` in the header narrows the candidates to keys with that
 * kid (or without one).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { decodeProtectedHeader, type JWTPayload, type JWTVerifyOptions, jwtVerify } from 'jose';
import type { Signer } from './sign.js';

export interface VerificationKey {
  /** the key's algorithm; when absent it is derived from the key, never taken from the token */
  alg?: string;
  kid?: string;
  /** a public (or private, whose public half is used) KeyObject, or the HMAC secret's bytes */
  key: KeyObject | Uint8Array;
}

const EC_ALG: Record<string, string> = {
  'P-256': 'ES256',
  prime256v1: 'ES256',
  'P-384': 'ES384',
  secp384r1: 'ES384',
  'P-521': 'ES512',
  secp521r1: 'ES512',
};

/** the one algorithm a key may verify */
export function algOfKey(k: VerificationKey): string | undefined {
  if (k.alg) return k.alg;
  if (k.key instanceof Uint8Array) return 'HS256';
  if (k.key.asymmetricKeyType === 'rsa') return 'RS256';
  if (k.key.asymmetricKeyType === 'ec') return EC_ALG[k.key.asymmetricKeyDetails?.namedCurve ?? ''];
  return undefined;
}

function publicOf(key: KeyObject | Uint8Array): KeyObject | Uint8Array {
  return key instanceof Uint8Array || key.type !== 'private' ? key : createPublicKey(key);
}

/** the keys a provider's own tokens verify with: its signing key's public half, or HS256 with the client secret */
export const verificationKeyOf = (signer: Signer): VerificationKey => ({ alg: signer.alg, kid: signer.kid, key: publicOf(signer.key) });

export type VerifyOptions = Pick<JWTVerifyOptions, 'audience' | 'issuer' | 'clockTolerance' | 'currentDate' | 'requiredClaims'>;

/** the payload when one of the keys verifies the token under its own algorithm; undefined otherwise */
export async function verifyJwt(
  token: string,
  keys: readonly VerificationKey[],
  opts: VerifyOptions = {},
): Promise<JWTPayload | undefined> {
  let header: { alg?: unknown; kid?: unknown };
  try {
    header = decodeProtectedHeader(token);
  } catch {
    return undefined;
  }
  if (typeof header.alg !== 'string' || header.alg.toLowerCase() === 'none') return undefined;
  // a JWE or anything with more than three parts is not a JWS
  if (token.split('.').length !== 3) return undefined;
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  for (const k of keys) {
    const alg = algOfKey(k);
    if (!alg || alg !== header.alg) continue;
    if (kid !== undefined && k.kid !== undefined && k.kid !== kid) continue;
    if (alg.startsWith('HS') !== k.key instanceof Uint8Array) continue;
    try {
      const { payload } = await jwtVerify(token, publicOf(k.key), { ...opts, algorithms: [alg] });
      return payload;
    } catch {}
  }
  return undefined;
}
