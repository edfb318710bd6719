/**
 * Fixtures shared by the protocol's unit tests, after authentik's `authentik/providers/oauth2/tests/utils.py`
 * (`OAuthTestCase`: a provider with a key pair) and `create_test_cert` (a self-signed certificate, made here with
 * the system's openssl).
 */
import { execFileSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { exportJWK } from 'jose';
import type { ClaimsUser, KeyLookup, ProviderSettings, PublicKey, SigningKey } from '../../../src/providers/oauth2/protocol/types.js';

export function provider(overrides: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    client_type: 'confidential',
    client_id: 'test',
    client_secret: 'a'.repeat(128),
    grant_types: ['authorization_code', 'implicit', 'hybrid', 'refresh_token'],
    redirect_uris: [{ matching_mode: 'strict', url: 'http://local.invalid/Foo', redirect_uri_type: 'authorization' }],
    include_claims_in_id_token: true,
    signing_key: null,
    encryption_key: null,
    access_code_validity: 'minutes=1',
    access_token_validity: 'hours=1',
    refresh_token_validity: 'days=30',
    sub_mode: 'hashed_user_id',
    issuer_mode: 'per_provider',
    application: { slug: 'app' },
    ...overrides,
  };
}

export const user: ClaimsUser = {
  id: 7,
  uuid: '5f1a7c2e-8b7e-4c7a-9a53-0d3f6b3f2c11',
  username: 'akadmin',
  email: 'admin@example.com',
  attributes: '{"upn":"admin@corp.example"}',
};

/** a key pair as src/crypto/keys.ts gives it: private key, PEM certificate, kid, alg, public JWK */
export interface TestKeyPair {
  uuid: string;
  cert: X509Certificate;
  certPem: string;
  signing: SigningKey;
  public: PublicKey;
}

function openssl(args: string[]): void {
  execFileSync('openssl', args, { stdio: 'ignore' });
}

/** `create_test_cert()`: a self-signed certificate with an RSA-2048 (default) or EC key */
export async function createTestCert(kind: 'rsa' | 'P-256' | 'P-384' | 'P-521' = 'rsa'): Promise<TestKeyPair> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-cert-'));
  try {
    const keyFile = path.join(dir, 'key.pem');
    const certFile = path.join(dir, 'cert.pem');
    const newkey = kind === 'rsa' ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', `ec_paramgen_curve:${kind}`];
    openssl(['req', '-x509', ...newkey, '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=keystage-test']);
    const privateKey: KeyObject = createPrivateKey(fs.readFileSync(keyFile));
    const certPem = fs.readFileSync(certFile, 'utf8');
    const cert = new X509Certificate(certPem);
    const kid = randomBytes(16).toString('hex');
    const alg = kind === 'rsa' ? 'RS256' : kind === 'P-256' ? 'ES256' : kind === 'P-384' ? 'ES384' : 'ES512';
    const publicKey = createPublicKey(privateKey);
    const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    return {
      uuid: randomBytes(16).toString('hex'),
      cert,
      certPem,
      signing: { kid, alg, privateKey, publicJwk },
      public: { kid, alg, publicKey, publicJwk },
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** a KeyLookup over some key pairs, as src/crypto/keys.ts answers */
export function lookupOf(...pairs: TestKeyPair[]): KeyLookup {
  return {
    signingKeyOf: async (uuid) => pairs.find((p) => p.uuid === uuid)?.signing,
    publicKeyOf: async (uuid) => pairs.find((p) => p.uuid === uuid)?.public,
  };
}
