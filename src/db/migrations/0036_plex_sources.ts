import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/** authentik's PlexSource: its client identifier, allowed servers, friends rule and the owner's token (sealed). */
export const m0036_plex_sources: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema
        .createTable('plex_sources')
        .addColumn('source_uuid', 'text', (c) => c.primaryKey().references('sources.source_uuid').onDelete('cascade')),
      dialect,
      {
        group_matching_mode: 'text',
        client_id: 'text',
        allowed_servers: 'json',
        allow_friends: 'bool',
        plex_token: 'text',
      },
    ).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('plex_sources').ifExists().execute();
  },
});
