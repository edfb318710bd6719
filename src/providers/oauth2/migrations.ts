import { addColumns, type VersionedMigration } from '../../db/ddl.js';
import { provider_oauth2_0002, provider_oauth2_0003 } from './tokens/migration.js';
import { provider_oauth2_0004 } from './dcr/migration.js';
import { provider_oauth2_0005 } from './tokens/dpop-migration.js';

export const oauth2Migrations: Record<string, VersionedMigration> = {
  provider_oauth2_0001: (dialect) => ({
    async up(db) {
      await addColumns(
        db.schema
          .createTable('provider_oauth2')
          .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade')),
        dialect,
        {
          client_type: 'text',
          client_id: { type: 'text', notNull: true, unique: true },
          client_secret: 'text',
          grant_types: 'json',
          redirect_uris: 'json',
          logout_uri: 'text',
          logout_method: 'text',
          include_claims_in_id_token: 'bool',
          access_code_validity: 'text',
          access_token_validity: 'text',
          refresh_token_validity: 'text',
          refresh_token_threshold: 'text',
          sub_mode: 'text',
          issuer_mode: 'text',
          signing_key: { type: 'uuid', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid', onDelete: 'set null' } },
          encryption_key: { type: 'uuid', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid', onDelete: 'set null' } },
          jwt_federation_sources: 'json',
          jwt_federation_providers: 'json',
        },
      ).execute();
    },
    async down(db) {
      await db.schema.dropTable('provider_oauth2').ifExists().execute();
    },
  }),
  provider_oauth2_0002,
  provider_oauth2_0003,
  provider_oauth2_0004,
  provider_oauth2_0005,
};
