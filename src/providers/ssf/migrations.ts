/** The Shared Signals Framework provider's tables: its settings, its OAuth2 providers, streams and their events. */
import { addColumns, type VersionedMigration } from '../../db/ddl.js';

export const ssfMigrations: Record<string, VersionedMigration> = {
  provider_ssf_0001: (dialect) => ({
    async up(db) {
      await addColumns(
        db.schema
          .createTable('provider_ssf')
          .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade')),
        dialect,
        {
          signing_key: { type: 'uuid', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid', onDelete: 'set null' } },
          token_uuid: { type: 'uuid', ref: { table: 'tokens', column: 'token_uuid', onDelete: 'set null' } },
          event_retention: 'text',
          push_verify_certificates: 'bool',
        },
      ).execute();
      await db.schema
        .createTable('provider_ssf_oidc_auth_providers')
        .addColumn('provider_id', 'integer', (c) => c.notNull().references('providers.id').onDelete('cascade'))
        .addColumn('oauth2_provider_id', 'integer', (c) => c.notNull().references('providers.id').onDelete('cascade'))
        .addPrimaryKeyConstraint('provider_ssf_oidc_auth_providers_pk', ['provider_id', 'oauth2_provider_id'])
        .execute();
      await db.schema
        .createIndex('provider_ssf_oidc_auth_providers_oauth2')
        .on('provider_ssf_oidc_auth_providers')
        .column('oauth2_provider_id')
        .execute();
      await addColumns(
        db.schema.createTable('ssf_streams').addColumn('uuid', 'text', (c) => c.primaryKey()),
        dialect,
        {
          provider_id: { type: 'int', notNull: true, ref: { table: 'providers', column: 'id', onDelete: 'cascade' } },
          status: 'text',
          delivery_method: 'text',
          endpoint_url: { type: 'text' },
          authorization_header: { type: 'text' },
          events_requested: 'json',
          format: 'text',
          aud: 'json',
          iss: 'text',
          created: 'datetime',
        },
      ).execute();
      await db.schema.createIndex('ssf_streams_provider').on('ssf_streams').column('provider_id').execute();
      await addColumns(
        db.schema.createTable('ssf_stream_events').addColumn('uuid', 'text', (c) => c.primaryKey()),
        dialect,
        {
          stream_uuid: { type: 'uuid', notNull: true, ref: { table: 'ssf_streams', column: 'uuid', onDelete: 'cascade' } },
          status: 'text',
          type: 'text',
          payload: 'json',
          attempts: 'int',
          created: 'datetime',
          last_updated: 'datetime',
          expires: 'datetime',
        },
      ).execute();
      await db.schema.createIndex('ssf_stream_events_stream').on('ssf_stream_events').columns(['stream_uuid', 'status']).execute();
      await db.schema.createIndex('ssf_stream_events_expires').on('ssf_stream_events').column('expires').execute();
    },
    async down(db) {
      await db.schema.dropTable('ssf_stream_events').ifExists().execute();
      await db.schema.dropTable('ssf_streams').ifExists().execute();
      await db.schema.dropTable('provider_ssf_oidc_auth_providers').ifExists().execute();
      await db.schema.dropTable('provider_ssf').ifExists().execute();
    },
  }),
};
