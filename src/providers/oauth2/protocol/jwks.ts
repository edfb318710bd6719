/**
 * The provider's JSON Web Key Set (`/application/o/<slug>/jwks/`), as authentik's `JWKSView`: the signing key
 * (`use: sig`, its algorithm) and the encryption key (`use: enc`, `alg: RSA-OAEP-256`, `enc: A256CBC-HS512`) when
 * set; `{}` when the provider signs with its client secret and encrypts nothing.
 */
import type { JWK } from 'jose';
import type { PublicKey, SigningKey } from './types.js';

const LEADING = ['alg', 'enc', 'kid', 'kty', 'use'];
/** private members a JWK of a private key would carry: never published */
const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];

/** authentik's member order: alg, (enc), kid, kty, use, then the key's own members (n, e / x, y, crv, x5c, x5t…) */
function ordered(head: Record<string, string>, jwk: JWK): Record<string, unknown> {
  const out: Record<string, unknown> = { ...head };
  for (const [k, v] of Object.entries(jwk)) if (!LEADING.includes(k) && !PRIVATE.includes(k)) out[k] = v;
  return out;
}

export function signingJwk(k: Pick<SigningKey, 'kid' | 'alg' | 'publicJwk'>): Record<string, unknown> {
  return ordered({ alg: k.alg, kid: k.kid, kty: String(k.publicJwk.kty), use: 'sig' }, k.publicJwk);
}

export function encryptionJwk(k: Pick<PublicKey, 'kid' | 'publicJwk'>): Record<string, unknown> {
  return ordered({ alg: 'RSA-OAEP-256', enc: 'A256CBC-HS512', kid: k.kid, kty: String(k.publicJwk.kty), use: 'enc' }, k.publicJwk);
}

export function jwksDocument(
  signing: Pick<SigningKey, 'kid' | 'alg' | 'publicJwk'> | undefined,
  encryption: Pick<PublicKey, 'kid' | 'publicJwk'> | undefined,
) {
  const keys: Record<string, unknown>[] = [];
  if (signing) keys.push(signingJwk(signing));
  if (encryption) keys.push(encryptionJwk(encryption));
  return keys.length ? { keys } : {};
}
