/** provider_oauth2_0004: the dynamic client registration settings (dcr/table.ts), deleted with their provider. */
import type { Kysely } from 'kysely';
import { addColumns, fk, type VersionedMigration } from '../../../db/ddl.js';

export const provider_oauth2_0004: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('provider_oauth2_dcr').addColumn('pbm_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        provider_id: {
          type: 'int',
          notNull: true,
          unique: true,
          ref: { table: 'provider_oauth2', column: 'provider_id', onDelete: 'cascade' },
        },
        default_application_group: 'text',
        override_authorization_flow: fk('flows', 'flow_uuid'),
        override_invalidation_flow: fk('flows', 'flow_uuid'),
        override_property_mappings: 'json',
        access_token_validity: 'text',
        refresh_token_validity: 'text',
        allowed_grant_types: 'json',
        policy_engine_mode: 'text',
      },
    ).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('provider_oauth2_dcr').ifExists().execute();
  },
});
