import type { Kysely } from 'kysely';
import { tableWithAutoId, addColumns, type VersionedMigration } from '../ddl.js';

/** authentik's VersionHistory: a row each time a node starts a version (and build) other than the last one recorded. */
export const m0029_version_history: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(tableWithAutoId(db, dialect, 'version_history'), dialect, {
      timestamp: 'datetime',
      version: 'text',
      build: 'text',
    }).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('version_history').ifExists().execute();
  },
});
