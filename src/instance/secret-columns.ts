/**
 * The core tables' secret columns (stage types' come from stages/registry.ts, device classes' from mfa/registry.ts):
 * encrypted at rest, core/secrets.ts.
 */
import type { SecretColumn } from './secrets.js';

export const coreSecretColumns: SecretColumn[] = [
  // the lookup hash follows the key: a key re-encrypted from clear (or from a previous secret key) gets a fresh HMAC
  { table: 'tokens', pk: 'token_uuid', column: 'key', derived: (plain, secrets) => ({ key_hash: secrets.lookupHash(plain) }) },
  // certificate-key pairs' PEM private keys (src/crypto/); the kid is computed once from the plaintext, not re-derived
  { table: 'crypto_certificatekeypairs', pk: 'kp_uuid', column: 'key_data' },
];
