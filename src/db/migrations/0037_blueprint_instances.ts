import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/** authentik's BlueprintInstance: a blueprint kept by Keystage, applied on request, with the outcome of the last application. */
export const m0037_blueprint_instances: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('blueprint_instances').addColumn('instance_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true },
        path: 'text',
        context: 'json',
        content: 'text',
        enabled: 'bool',
        status: 'text',
        last_applied: 'datetime',
        last_applied_hash: 'text',
        managed_models: 'json',
        metadata: 'json',
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('blueprint_instances').ifExists().execute();
  },
});
