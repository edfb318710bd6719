/** The SAML provider's tables: its settings (keyed by providers.id) and the SAML property mappings' own columns. */
import { addColumns, tableWithAutoId, type VersionedMigration } from '../../db/ddl.js';

const keypair = { type: 'uuid', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid', onDelete: 'set null' } } as const;
const mapping = { type: 'text', ref: { table: 'property_mappings', column: 'pm_uuid', onDelete: 'set null' } } as const;

export const samlMigrations: Record<string, VersionedMigration> = {
  provider_saml_0001: (dialect) => ({
    async up(db) {
      await addColumns(
        db.schema
          .createTable('provider_saml')
          .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade')),
        dialect,
        {
          acs_url: 'text',
          sls_url: 'text',
          audience: 'text',
          issuer_override: 'text',
          assertion_valid_not_before: 'text',
          assertion_valid_not_on_or_after: 'text',
          session_valid_not_on_or_after: 'text',
          name_id_mapping: mapping,
          authn_context_class_ref_mapping: mapping,
          digest_algorithm: 'text',
          signature_algorithm: 'text',
          signing_kp: keypair,
          verification_kp: keypair,
          encryption_kp: keypair,
          sign_assertion: 'bool',
          sign_response: 'bool',
          sign_logout_request: 'bool',
          sign_logout_response: 'bool',
          sp_binding: 'text',
          sls_binding: 'text',
          logout_method: 'text',
          default_relay_state: 'text',
          default_name_id_policy: 'text',
        },
      ).execute();
      await db.schema
        .createTable('property_mapping_saml')
        .addColumn('pm_uuid', 'text', (c) => c.primaryKey().references('property_mappings.pm_uuid').onDelete('cascade'))
        .addColumn('saml_name', 'text', (c) => c.notNull())
        .addColumn('friendly_name', 'text')
        .execute();
    },
    async down(db) {
      await db.schema.dropTable('property_mapping_saml').ifExists().execute();
      await db.schema.dropTable('provider_saml').ifExists().execute();
    },
  }),
  // the sessions service providers hold (authentik's SAMLSession): what a logout tells them to end
  provider_saml_0002: (dialect) => ({
    async up(db) {
      await addColumns(tableWithAutoId(db, dialect, 'saml_sessions'), dialect, {
        provider_id: { type: 'int', notNull: true, ref: { table: 'providers', column: 'id', onDelete: 'cascade' } },
        user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        /** the SHA-256 of the Keystage session's key */
        session_id: 'text',
        session_index: 'text',
        name_id: 'text',
        name_id_format: 'text',
        /** the entity ID Keystage answered with (a logout request is sent with the same) */
        issuer: 'text',
        expires: 'datetime',
        created: 'datetime',
      }).execute();
      await db.schema.createIndex('saml_sessions_session').on('saml_sessions').column('session_id').execute();
    },
    async down(db) {
      await db.schema.dropTable('saml_sessions').ifExists().execute();
    },
  }),
};
