/**
 * DPoP proofs (RFC 9449, authentik's `DPoPValidator`): a JWT of type `dpop+jwt` whose header carries the client's
 * public key (`jwk`: EC on P-256/384/521, or RSA of 2048–8192 bits; never private members), signed with it under an
 * asymmetric algorithm, for this request's method (`htm`) and URL (`htu`: scheme, host and path compared), issued
 * within a minute of now (`iat`), with a `jti` (at most 256 characters; its single use is checked by the caller
 * against the database) and, at a resource, the hash of the access token it comes with (`ath`). The key's RFC 7638
 * thumbprint (`jkt`) is what tokens get bound to. Pure: no clock but `now`, no storage.
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';

export const DPOP_ALGS = ['ES256', 'ES384', 'ES512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
const ALGS: ReadonlySet<string> = new Set(DPOP_ALGS);
const CURVES = new Set(['P-256', 'P-384', 'P-521']);
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'];
/** the members a thumbprint is computed over: the key rebuilt from them carries nothing else */
const REQUIRED: Record<string, readonly string[]> = { EC: ['crv', 'kty', 'x', 'y'], RSA: ['e', 'kty', 'n'] };
export const DPOP_IAT_SKEW_S = 60;
export const DPOP_JTI_MAX = 256;

export class DPoPError extends Error {}

export interface DPoPProof {
  /** the key's thumbprint (base64url SHA-256, RFC 7638) */
  jkt: string;
  jti: string;
  iat: number;
}

export interface DPoPExpect {
  htm: string;
  htu: string;
  /** at a resource: the access token the proof must name (`ath`) */
  accessToken?: string;
  now?: Date;
}

/** base64url(SHA-256(ASCII(token))): a proof's `ath` */
export const accessTokenHash = (token: string) => createHash('sha256').update(token, 'ascii').digest('base64url');

function sameTarget(a: string, b: string): boolean {
  try {
    const x = new URL(a);
    const y = new URL(b);
    return x.protocol === y.protocol && x.host === y.host && x.pathname === y.pathname;
  } catch {
    return false;
  }
}

/** the proof's key checked and reduced to its thumbprint members */
function publicKeyOf(jwk: unknown): { jwk: JWK; key: KeyObject } {
  if (!jwk || typeof jwk !== 'object' || Array.isArray(jwk)) throw new DPoPError('Missing jwk in DPoP header');
  const j = jwk as Record<string, unknown>;
  const members = REQUIRED[String(j.kty)];
  if (!members) throw new DPoPError(`Unsupported JWK kty for DPoP: ${String(j.kty)}`);
  if (PRIVATE_MEMBERS.some((m) => m in j)) throw new DPoPError('DPoP JWK must not contain private key material');
  if (j.kty === 'EC' && !CURVES.has(String(j.crv))) throw new DPoPError(`Unsupported EC curve for DPoP: ${String(j.crv)}`);
  if (members.some((m) => typeof j[m] !== 'string')) throw new DPoPError('JWK missing required members');
  const canonical = Object.fromEntries(members.map((m) => [m, j[m]])) as JWK;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: canonical as import('node:crypto').JsonWebKey, format: 'jwk' });
  } catch {
    throw new DPoPError('Invalid jwk in DPoP header');
  }
  const bits = key.asymmetricKeyDetails?.modulusLength;
  if (j.kty === 'RSA' && (bits === undefined || bits < 2048 || bits > 8192)) throw new DPoPError('RSA key size not allowed for DPoP');
  return { jwk: canonical, key };
}

/** the proof, checked; a DPoPError saying why not otherwise (the jti's single use is the caller's) */
export async function checkProof(proof: string, expect: DPoPExpect): Promise<DPoPProof> {
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(proof) as Record<string, unknown>;
  } catch {
    throw new DPoPError('Invalid DPoP proof JWT');
  }
  if (proof.split('.').length !== 3) throw new DPoPError('Invalid DPoP proof JWT');
  if (header.typ !== 'dpop+jwt') throw new DPoPError(`Invalid DPoP typ header: ${String(header.typ)}`);
  const { jwk, key } = publicKeyOf(header.jwk);
  const alg = header.alg;
  if (typeof alg !== 'string' || !ALGS.has(alg)) throw new DPoPError(`Unsupported DPoP algorithm: ${String(alg)}`);
  let payload: Record<string, unknown>;
  try {
    payload = (await jwtVerify(proof, key, { algorithms: [alg], typ: 'dpop+jwt' })).payload as Record<string, unknown>;
  } catch {
    throw new DPoPError('DPoP proof signature verification failed');
  }
  if (payload.htm !== expect.htm) throw new DPoPError(`DPoP htm mismatch: expected ${expect.htm}`);
  if (typeof payload.htu !== 'string' || !sameTarget(payload.htu, expect.htu)) throw new DPoPError('DPoP htu mismatch');
  const iat = payload.iat;
  const now = Math.floor((expect.now ?? new Date()).getTime() / 1000);
  if (typeof iat !== 'number' || !Number.isInteger(iat)) throw new DPoPError('DPoP proof missing or invalid iat claim');
  if (Math.abs(now - iat) > DPOP_IAT_SKEW_S) throw new DPoPError('DPoP proof iat outside acceptable clock skew');
  const jti = payload.jti;
  if (typeof jti !== 'string' || !jti) throw new DPoPError('DPoP proof missing jti claim');
  if (jti.length > DPOP_JTI_MAX) throw new DPoPError('DPoP proof jti too large');
  if (expect.accessToken !== undefined && payload.ath !== accessTokenHash(expect.accessToken))
    throw new DPoPError('DPoP proof ath mismatch');
  return { jkt: await calculateJwkThumbprint(jwk, 'sha256'), jti, iat };
}
