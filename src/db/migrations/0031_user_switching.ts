import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * authentik's user switching: the logins one browser holds share the browser's token (its signed
 * `authentik_user_switching` cookie); a login's row names it (src/sessions/user-switching.ts).
 */
export const m0031_user_switching: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('sessions').addColumn('switch_token', 'text').execute();
    await db.schema.createIndex('sessions_switch_token').on('sessions').column('switch_token').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropIndex('sessions_switch_token').ifExists().execute();
    await db.schema.alterTable('sessions').dropColumn('switch_token').execute();
  },
});
