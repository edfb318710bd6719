import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * What authentik (2025.12 on) stores beside a certificate-key pair, read from its certificate and key when the pair is
 * written (src/crypto/x509.ts): the key type, expiry, RFC 4514 subject, SHA-256 and SHA-1 fingerprints, and the key
 * id. Lists filter and order by them without parsing every certificate. Rows written before are filled at start
 * (src/crypto/defaults.ts, `backfillCertificateDetails`).
 */
export const m0016_crypto_details: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    for (const column of ['key_type', 'cert_expiry', 'cert_subject', 'fingerprint_sha256', 'fingerprint_sha1', 'kid'])
      await db.schema.alterTable('crypto_certificatekeypairs').addColumn(column, 'text').execute();
  },
  async down(db: Kysely<any>) {
    for (const column of ['key_type', 'cert_expiry', 'cert_subject', 'fingerprint_sha256', 'fingerprint_sha1', 'kid'])
      await db.schema.alterTable('crypto_certificatekeypairs').dropColumn(column).execute();
  },
});
