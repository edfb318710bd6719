import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * authentik's system settings (its Tenant's fields, `/admin/settings/`): one row, the settings as JSON (a setting
 * added later needs no migration: its default fills in). A configuration table: the admin cache keeps it.
 */
export const m0027_settings: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('instance_settings')
      .addColumn('id', 'integer', (c) => c.primaryKey())
      .addColumn('data', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('instance_settings').ifExists().execute();
  },
});
