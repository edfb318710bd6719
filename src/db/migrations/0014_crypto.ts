import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * Certificate-key pairs (authentik's `CertificateKeyPair`): a PEM certificate and, optionally, its PEM private key,
 * the key sealed at rest (src/instance/secrets.ts) like every other retrievable secret. Providers sign and encrypt
 * tokens with them (`signing_key`, `encryption_key`). A configuration table: `crypto_` tables move the epoch.
 */
export const m0014_crypto: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('crypto_certificatekeypairs').addColumn('kp_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true, unique: true },
        certificate_data: 'text',
        /** sealed PEM private key, '' when the pair holds only a certificate */
        key_data: 'text',
        managed: { type: 'text', unique: true },
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('crypto_certificatekeypairs').ifExists().execute();
  },
});
