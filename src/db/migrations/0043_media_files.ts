import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * authentik's file storage for media (src/files/): uploaded images — application and source icons, flow backgrounds,
 * brand logos and favicons — kept in the database, so every node serves them.
 */
export const m0043_media_files: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('media_files')
      .addColumn('name', 'text', (c) => c.primaryKey())
      .addColumn('mime_type', 'text', (c) => c.notNull())
      .addColumn('size', 'integer', (c) => c.notNull())
      .addColumn('content', dialect === 'postgres' ? 'bytea' : 'blob', (c) => c.notNull())
      .addColumn('created', 'text', (c) => c.notNull())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('media_files').ifExists().execute();
  },
});
