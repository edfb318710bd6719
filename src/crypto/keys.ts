/**
 * The keys of certificate-key pairs as signing and encryption code needs them (OAuth2/OIDC `signing_key`,
 * `encryption_key`, JWKS). Read through the admin cache (src/db/admin-cache.ts): kept until the next admin write
 * (any API write forgets everything, and another node's write moves the configuration epoch), so a key replaced
 * through the API is used from the next request on.
 */
import { createPublicKey, type KeyObject, type X509Certificate } from 'node:crypto';
import { exportJWK, type JWK } from 'jose';
import { cachedAdminData } from '../db/admin-cache.js';
import { secretsOf } from '../instance/secrets.js';
import type { Services } from '../services.js';
import { isUuid, normalizeUuid } from '../rest/validate.js';
import { keyIdOf, loadCertificate, loadPrivateKey } from './x509.js';

export type SigningAlg = 'RS256' | 'ES256' | 'ES384' | 'ES512';

export interface SigningKey {
  /** authentik's CertificateKeyPair.kid */
  kid: string;
  alg: SigningAlg;
  privateKey: KeyObject;
  /** the public key with `kid`, `alg`, `use: 'sig'` and the certificate (`x5c`, `x5t`, `x5t#S256`), as authentik's JWKS */
  publicJwk: JWK;
}

export interface PublicKey {
  /** authentik's kid ('' for a pair without a private key) */
  kid: string;
  /** the signature algorithm of the key's type (RS256, ES256/384/512), '' for other types */
  alg: string;
  publicKey: KeyObject;
  /** the certificate's public key with `kid` and `x5c`/`x5t`/`x5t#S256`, without `use` and `alg`: the caller sets them (`enc`, RSA-OAEP-256) */
  publicJwk: JWK;
}

/** the pair's key cannot sign JWTs (authentik: "Invalid private key type" for keys other than RSA and EC) */
export class UnsupportedSigningKey extends Error {
  constructor(
    readonly kpUuid: string,
    readonly keyType: string | undefined,
  ) {
    super(`certificate-key pair ${kpUuid} holds a ${keyType ?? 'unknown'} key, which cannot sign JWTs (RSA or EC only)`);
  }
}

const EC_ALGS: Record<string, SigningAlg> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };
const CURVE_NAMES: Record<string, string> = { prime256v1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

/** the JWS algorithm of a key: RS256 for RSA, ES256/384/512 by curve (authentik's JWTAlgorithms.from_private_key) */
export function signingAlgOf(key: KeyObject): SigningAlg | undefined {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
    return EC_ALGS[CURVE_NAMES[curve] ?? curve];
  }
  return undefined;
}

/** the certificate members authentik's JWKS adds to each key */
function certificateMembers(cert: X509Certificate): JWK {
  const der = cert.raw;
  return {
    x5c: [der.toString('base64')],
    x5t: Buffer.from(cert.fingerprint.replace(/:/g, ''), 'hex').toString('base64url'),
    'x5t#S256': Buffer.from(cert.fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'),
  };
}

interface Loaded {
  kid: string;
  certificate: X509Certificate | undefined;
  privateKey: KeyObject | undefined;
}

/** the pair's row with its private key opened (PEM, "" when it holds none); undefined if gone */
async function readPair(svc: Services, kpUuid: string) {
  if (!isUuid(kpUuid)) return undefined;
  const row = await svc.db
    .selectFrom('crypto_certificatekeypairs')
    .select(['certificate_data', 'key_data', 'kid'])
    .where('kp_uuid', '=', normalizeUuid(kpUuid))
    .executeTakeFirst();
  if (!row) return undefined;
  const keyPem = row.key_data ? secretsOf(svc.db).open('crypto_certificatekeypairs.key_data', row.key_data) : '';
  return { certificatePem: row.certificate_data, privateKeyPem: keyPem, kid: row.kid };
}

async function loadPair(svc: Services, kpUuid: string): Promise<Loaded | undefined> {
  const pair = await readPair(svc, kpUuid);
  if (!pair) return undefined;
  return {
    kid: pair.kid ?? keyIdOf(pair.privateKeyPem),
    certificate: loadCertificate(pair.certificatePem),
    privateKey: pair.privateKeyPem ? loadPrivateKey(pair.privateKeyPem) : undefined,
  };
}

/**
 * The pair's private key for signing; undefined if the pair is gone or holds no (readable) key. Throws
 * UnsupportedSigningKey for a key that is neither RSA nor EC P-256/384/521 (Ed25519, Ed448, DSA), as authentik
 * refuses to sign with one.
 */
export function signingKeyOf(svc: Services, kpUuid: string): Promise<SigningKey | undefined> {
  return cachedAdminData(svc.db, `crypto:signing:${kpUuid}`, async () => {
    const pair = await loadPair(svc, kpUuid);
    if (!pair?.privateKey) return undefined;
    const alg = signingAlgOf(pair.privateKey);
    if (!alg) throw new UnsupportedSigningKey(kpUuid, pair.privateKey.asymmetricKeyType);
    const publicJwk: JWK = {
      ...(await exportJWK(createPublicKey(pair.privateKey))),
      kid: pair.kid,
      alg,
      use: 'sig',
      ...(pair.certificate ? certificateMembers(pair.certificate) : {}),
    };
    return { kid: pair.kid, alg, privateKey: pair.privateKey, publicJwk };
  });
}

/** the pair's public key (its certificate's), e.g. for JWE encryption (`encryption_key`) and JWKS; undefined if gone */
export function publicKeyOf(svc: Services, kpUuid: string): Promise<PublicKey | undefined> {
  return cachedAdminData(svc.db, `crypto:public:${kpUuid}`, async () => {
    const pair = await loadPair(svc, kpUuid);
    if (!pair?.certificate) return undefined;
    const publicKey = pair.certificate.publicKey;
    const publicJwk: JWK = { ...(await exportJWK(publicKey)), kid: pair.kid, ...certificateMembers(pair.certificate) };
    return { kid: pair.kid, alg: signingAlgOf(publicKey) ?? '', publicKey, publicJwk };
  });
}

/** the pair's certificate and private key as PEM (the SAML source's XML signing, checking and decryption); undefined if gone */
export function pemsOf(svc: Services, kpUuid: string): Promise<{ certificatePem: string; privateKeyPem: string } | undefined> {
  return cachedAdminData(svc.db, `crypto:pems:${kpUuid}`, async () => {
    const pair = await readPair(svc, kpUuid);
    return pair && { certificatePem: pair.certificatePem, privateKeyPem: pair.privateKeyPem };
  });
}
