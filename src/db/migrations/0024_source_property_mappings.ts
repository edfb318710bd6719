import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * A source's property mappings (authentik's Source.user_property_mappings and group_property_mappings): which
 * OAuth source property mappings shape the users (`kind` 'user') and groups ('group') it creates. Goes with either.
 */
export const m0024_source_property_mappings: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('source_property_mappings')
      .addColumn('source_uuid', 'text', (c) => c.notNull().references('sources.source_uuid').onDelete('cascade'))
      .addColumn('pm_uuid', 'text', (c) => c.notNull().references('property_mappings.pm_uuid').onDelete('cascade'))
      .addColumn('kind', 'text', (c) => c.notNull())
      .addPrimaryKeyConstraint('source_property_mappings_pk', ['source_uuid', 'pm_uuid', 'kind'])
      .execute();
    await db.schema.createIndex('source_property_mappings_pm').on('source_property_mappings').column('pm_uuid').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('source_property_mappings').execute();
  },
});
