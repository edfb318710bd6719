import type { CreateTableBuilder, Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's SCIMSource (its API token, made with its service account when the source is created) and the users and
 * groups an identity provider provisioned through it (SCIMSourceUser, SCIMSourceGroup: the SCIM id, the provider's
 * externalId, the object and the attributes as last sent).
 */
export const m0033_scim_sources: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('scim_sources')
      .addColumn('source_uuid', 'text', (c) => c.primaryKey().references('sources.source_uuid').onDelete('cascade'))
      .addColumn('token_uuid', 'text', (c) => c.references('tokens.token_uuid').onDelete('set null'))
      .execute();
    for (const [table, column, ref] of [
      ['scim_source_users', 'user_id', { table: 'users', column: 'id', type: 'int' as const }],
      ['scim_source_groups', 'group_uuid', { table: 'groups', column: 'group_uuid', type: 'uuid' as const }],
    ] as const) {
      await (
        addColumns(
          db.schema.createTable(table).addColumn('id', 'text', (c) => c.primaryKey()),
          dialect,
          {
            external_id: 'text',
            [column]: { type: ref.type, notNull: true, ref: { table: ref.table, column: ref.column, onDelete: 'cascade' } },
            source_uuid: { type: 'uuid', notNull: true, ref: { table: 'sources', column: 'source_uuid', onDelete: 'cascade' } },
            attributes: 'json',
          },
        ) as CreateTableBuilder<string, any>
      )
        .addUniqueConstraint(`${table}_object`, ['source_uuid', column])
        .execute();
      await db.schema.createIndex(`${table}_external`).on(table).columns(['source_uuid', 'external_id']).execute();
    }
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('scim_source_groups').ifExists().execute();
    await db.schema.dropTable('scim_source_users').ifExists().execute();
    await db.schema.dropTable('scim_sources').ifExists().execute();
  },
});
