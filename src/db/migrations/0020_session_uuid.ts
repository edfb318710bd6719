import { sql, type Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * A session's public identifier (authentik's AuthenticatedSession `uuid`, the lookup of /core/authenticated_sessions/):
 * the key itself is a secret and is never shown. Sessions get one when they are stored (sessions.ts); those of
 * logged-in users that exist already get one here.
 */
export const m0020_session_uuid: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('sessions').addColumn('uuid', 'text').execute();
    await db.schema.createIndex('sessions_uuid').unique().on('sessions').column('uuid').execute();
    const random =
      dialect === 'postgres'
        ? sql`gen_random_uuid()::text`
        : sql`lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`;
    await sql`UPDATE sessions SET uuid = ${random} WHERE user_id IS NOT NULL`.execute(db);
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('sessions_uuid').execute();
    await db.schema.alterTable('sessions').dropColumn('uuid').execute();
  },
});
