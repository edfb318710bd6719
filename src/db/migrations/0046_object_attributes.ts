import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's object attributes (src/attributes/): administrator-defined schema entries for users' and groups'
 * `attributes`, enforced when those are written through the API; one enabled entry per model and key.
 */
export const m0046_object_attributes: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('object_attributes').addColumn('attribute_id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        enabled: 'bool',
        object_type: 'text',
        label: 'text',
        group: 'text',
        key: 'text',
        type: 'text',
        is_unique: 'bool',
        is_required: 'bool',
        regex: 'text',
        managed: { type: 'text', unique: true },
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
    // authentik's unique_together (object_type, key, enabled)
    await db.schema
      .createIndex('object_attributes_unique')
      .on('object_attributes')
      .columns(['object_type', 'key', 'enabled'])
      .unique()
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('object_attributes').ifExists().execute();
  },
});
