import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * The number of successful logins of a user from an IP (login_ips.logins): the login's upsert returns it, so the
 * login stage learns whether the IP was known before (`known_device`) without reading the row first. Rows that exist
 * already stand for at least one login.
 */
export const m0021_login_ip_count: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('login_ips')
      .addColumn('logins', 'integer', (c) => c.notNull().defaultTo(1))
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('login_ips').dropColumn('logins').execute();
  },
});
