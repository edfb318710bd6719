/** The WS-Federation provider's settings table, keyed by providers.id (its SAML settings and its SAML version). */
import { addColumns, type VersionedMigration } from '../../db/ddl.js';

const keypair = { type: 'uuid', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid', onDelete: 'set null' } } as const;
const mapping = { type: 'text', ref: { table: 'property_mappings', column: 'pm_uuid', onDelete: 'set null' } } as const;

export const wsfedMigrations: Record<string, VersionedMigration> = {
  provider_wsfed_0001: (dialect) => ({
    async up(db) {
      await addColumns(
        db.schema
          .createTable('provider_wsfed')
          .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade')),
        dialect,
        {
          reply_url: 'text',
          wtrealm: 'text',
          assertion_valid_not_before: 'text',
          assertion_valid_not_on_or_after: 'text',
          session_valid_not_on_or_after: 'text',
          name_id_mapping: mapping,
          authn_context_class_ref_mapping: mapping,
          saml_version: 'text',
          digest_algorithm: 'text',
          signature_algorithm: 'text',
          signing_kp: keypair,
          encryption_kp: keypair,
          sign_assertion: 'bool',
          sign_logout_request: 'bool',
          default_name_id_policy: 'text',
        },
      ).execute();
      await db.schema.createIndex('provider_wsfed_wtrealm').on('provider_wsfed').column('wtrealm').execute();
    },
    async down(db) {
      await db.schema.dropTable('provider_wsfed').ifExists().execute();
    },
  }),
};
