import { sql, type Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/** Audit events; failed-authentication counters shared by all nodes; IPs a user has logged in from; session idle time. */
export const m0004_events_lockout: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('events').addColumn('event_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        action: 'text',
        app: 'text',
        user: 'json',
        username: 'text',
        context: 'json',
        client_ip: { type: 'text' },
        created: 'datetime',
        expires: 'datetime',
      },
    ).execute();
    await db.schema.createIndex('events_created').on('events').column('created').execute();
    await db.schema.createIndex('events_action').on('events').columns(['action', 'created']).execute();
    await db.schema.createIndex('events_expires').on('events').column('expires').execute();

    // one row per (scope, key): scope "account" (identifier), "account_ip" (identifier|ip), "ip"
    await (
      addColumns(db.schema.createTable('auth_failures'), dialect, {
        scope: 'text',
        key: 'text',
        count: 'int',
        window_start: 'datetime',
      }) as any
    )
      .addPrimaryKeyConstraint('auth_failures_pk', ['scope', 'key'])
      .execute();

    // identification matches case-insensitively: expression indexes keep that a lookup, not a scan
    await db.schema.createIndex('users_username_lower').on('users').expression(sql`lower(username)`).execute();
    await db.schema.createIndex('users_email_lower').on('users').expression(sql`lower(email)`).execute();

    // idle timeout: when the session was last used
    await db.schema.alterTable('sessions').addColumn('last_seen', 'text').execute();

    await (
      addColumns(db.schema.createTable('login_ips'), dialect, {
        user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        ip: 'text',
        last_success: 'datetime',
      }) as any
    )
      .addPrimaryKeyConstraint('login_ips_pk', ['user_id', 'ip'])
      .execute();
  },
  async down() {
    throw new Error('irreversible');
  },
});
