import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's application entitlements (ApplicationEntitlement: a policy-binding target per application; the users
 * and groups bound to it have it). Deleted with their application; one name per application.
 */
export const m0028_application_entitlements: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('application_entitlements').addColumn('pbm_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true },
        app: { type: 'uuid', notNull: true, ref: { table: 'applications', column: 'pbm_uuid', onDelete: 'cascade' } },
        attributes: 'json',
        policy_engine_mode: 'text',
      },
    ).execute();
    await db.schema
      .createIndex('application_entitlements_app_name')
      .on('application_entitlements')
      .columns(['app', 'name'])
      .unique()
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('application_entitlements').ifExists().execute();
  },
});
