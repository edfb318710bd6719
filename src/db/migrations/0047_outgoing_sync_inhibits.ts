import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * A transaction whose writes outgoing sync providers (SCIM) do not push one by one: it holds a row here until just
 * before it commits (src/db/outgoing-sync.ts), and the providers' triggers skip their queue while they see one — only
 * that transaction sees its own uncommitted row (SQLite runs one writer at a time). Authentik's
 * `sync_outgoing_inhibit_dispatch`, which an LDAP source's sync uses unless its `sync_outgoing_trigger_mode` is
 * `immediate`.
 */
export const m0047_outgoing_sync_inhibits: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .createTable('outgoing_sync_inhibits')
      .addColumn('marker', 'text', (c) => c.primaryKey())
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('outgoing_sync_inhibits').ifExists().execute();
  },
});
