import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * Flow requests of one session run one at a time on every node: `lock_until` is the lease a request holds while it
 * runs (sessions.ts). Expired sessions are swept continuously, found through an index on `expires`.
 */
export const m0007_session_lock: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('sessions').addColumn('lock_until', 'text').execute();
    await db.schema.createIndex('sessions_expires').on('sessions').column('expires').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('sessions_expires').execute();
    await db.schema.alterTable('sessions').dropColumn('lock_until').execute();
  },
});
