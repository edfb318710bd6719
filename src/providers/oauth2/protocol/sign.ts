/**
 * Signing and encryption as authentik's `OAuth2Provider.encode`: without a signing key the token is HS256 with the
 * client secret; with one, the key's algorithm (RS256, ES256/384/512) and its `kid` in the header. With an
 * encryption key the signed token is wrapped in a compact JWE (RSA-OAEP-256 + A256CBC-HS512, `typ: JWE`, the
 * key's `kid`). Key pairs are reached through a `KeyLookup` (src/crypto/keys.ts), once per request.
 */
import { webcrypto, type KeyObject } from 'node:crypto';

type CryptoKey = webcrypto.CryptoKey;
import { CompactEncrypt, SignJWT } from 'jose';
import type { KeyLookup, ProviderSettings, PublicKey } from './types.js';

export type JwtAlg = 'HS256' | 'RS256' | 'ES256' | 'ES384' | 'ES512';

/** the key a provider's tokens are signed with */
export interface Signer {
  alg: JwtAlg;
  kid?: string;
  key: KeyObject | Uint8Array;
}

/** a provider's resolved keys: the signer, and the JWE recipient when tokens are encrypted */
export interface ProviderKeys {
  signer: Signer;
  encryptTo?: PublicKey;
}

const encoder = new TextEncoder();

/** a provider with neither a signing key nor a client secret cannot sign (authentik would HMAC with an empty key) */
export class NoSigningKey extends Error {
  constructor() {
    super('the provider has no signing key and an empty client secret: tokens cannot be signed');
  }
}

/** HS256 with the client secret (its UTF-8 bytes, as PyJWT uses a str key) */
export function hs256Signer(clientSecret: string): Signer {
  if (!clientSecret) throw new NoSigningKey();
  return { alg: 'HS256', key: encoder.encode(clientSecret) };
}

/**
 * `jwt_key`: the signing key pair's key and algorithm, or HS256 with the client secret when there is none. A pair
 * that is gone or holds no private key signs as if none were set (authentik nulls the reference on delete).
 */
export async function signerOf(
  provider: Pick<ProviderSettings, 'signing_key' | 'client_secret'>,
  keys: Pick<KeyLookup, 'signingKeyOf'>,
): Promise<Signer> {
  if (provider.signing_key) {
    const k = await keys.signingKeyOf(provider.signing_key);
    if (k) return { alg: k.alg, kid: k.kid, key: k.privateKey };
  }
  return hs256Signer(provider.client_secret);
}

/** both keys of a provider */
export async function providerKeys(
  provider: Pick<ProviderSettings, 'signing_key' | 'encryption_key' | 'client_secret'>,
  keys: KeyLookup,
): Promise<ProviderKeys> {
  const [signer, encryptTo] = await Promise.all([
    signerOf(provider, keys),
    provider.encryption_key ? keys.publicKeyOf(provider.encryption_key) : Promise.resolve(undefined),
  ]);
  return encryptTo ? { signer, encryptTo } : { signer };
}

/**
 * HS256 keys imported once per client secret: jose imports raw key bytes into WebCrypto on every signature, which
 * costs more than the HMAC itself (measured: a quarter of a client_credentials request's CPU). A few hundred secrets
 * at most, the oldest dropped first.
 */
const hmacKeys = new Map<string, Promise<CryptoKey>>();
function hmacKey(key: Uint8Array): Promise<CryptoKey> {
  const id = Buffer.from(key).toString('base64');
  let k = hmacKeys.get(id);
  if (!k) {
    if (hmacKeys.size >= 256) hmacKeys.delete(hmacKeys.keys().next().value!);
    k = webcrypto.subtle.importKey('raw', key, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    hmacKeys.set(id, k);
    k.catch(() => hmacKeys.delete(id));
  }
  return k;
}

/** a JWS over the payload (header `alg`, `kid` when the key has one, `typ`: JWT unless told) */
export async function signJwt(payload: Record<string, unknown>, signer: Signer, typ = 'JWT'): Promise<string> {
  // PyJWT writes the header's keys sorted: alg, kid, typ
  const header = signer.kid ? { alg: signer.alg, kid: signer.kid, typ } : { alg: signer.alg, typ };
  const key = signer.alg === 'HS256' && signer.key instanceof Uint8Array ? await hmacKey(signer.key) : signer.key;
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

/** `encrypt`: the compact JWE of a signed token for the encryption key pair's certificate */
export async function encryptJwt(jws: string, to: PublicKey): Promise<string> {
  return new CompactEncrypt(encoder.encode(jws))
    .setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256CBC-HS512', typ: 'JWE', kid: to.kid })
    .encrypt(to.publicKey);
}

/** `encode`: sign, then encrypt when the provider has an encryption key */
export async function encodeJwt(payload: Record<string, unknown>, keys: ProviderKeys, typ = 'JWT'): Promise<string> {
  const jws = await signJwt(payload, keys.signer, typ);
  return keys.encryptTo ? encryptJwt(jws, keys.encryptTo) : jws;
}
