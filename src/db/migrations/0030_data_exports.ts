import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's DataExport (enterprise reports): a CSV of users or events, asked for with a list's filters and made in
 * the background. The file is kept in the row (all state in the database). `claimed_until`: the node making it, until
 * then (another node takes over an export whose maker stopped).
 */
export const m0030_data_exports: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('data_exports').addColumn('id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        requested_by: { type: 'int', ref: { table: 'users', column: 'id', onDelete: 'set null' } },
        requested_on: 'datetime',
        content_type: 'text',
        query_params: 'json',
        file: 'text',
        content: { type: 'text' },
        completed: 'bool',
        claimed_until: { type: 'datetime' },
      },
    ).execute();
    await db.schema.createIndex('data_exports_pending').on('data_exports').columns(['completed', 'claimed_until']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('data_exports').ifExists().execute();
  },
});
