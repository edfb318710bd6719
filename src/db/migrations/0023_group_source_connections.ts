import type { CreateTableBuilder, Kysely } from 'kysely';
import { addColumns, tableWithAutoId, type VersionedMigration } from '../ddl.js';

/**
 * A group's link to a group at a source (authentik's GroupOAuthSourceConnection): the groups a source names for a
 * person are matched or created through it at each login (src/sources/groups.ts); one group per identifier.
 */
export const m0023_group_source_connections: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await (
      addColumns(tableWithAutoId(db, dialect, 'group_source_connections'), dialect, {
        group_uuid: { type: 'uuid', notNull: true, ref: { table: 'groups', column: 'group_uuid', onDelete: 'cascade' } },
        source_uuid: { type: 'uuid', notNull: true, ref: { table: 'sources', column: 'source_uuid', onDelete: 'cascade' } },
        identifier: 'text',
        created: 'datetime',
        last_updated: 'datetime',
      }) as CreateTableBuilder<'group_source_connections', any>
    )
      .addUniqueConstraint('group_source_connections_identity', ['source_uuid', 'identifier'])
      .execute();
    await db.schema.createIndex('group_source_connections_group').on('group_source_connections').column('group_uuid').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('group_source_connections').execute();
  },
});
