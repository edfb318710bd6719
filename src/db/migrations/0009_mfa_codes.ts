import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * E-mail and SMS codes, one per device and login attempt (so a new code for one attempt leaves another attempt's
 * code working), and the counters that limit how many codes are sent (per device, login attempt, IP, identifier),
 * shared by every node. The devices' own `token_hash`/`valid_until` columns are no longer used.
 */
export const m0009_mfa_codes: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    // device_table: "email_devices" | "sms_devices"; attempt: SHA-256 of the login attempt's nonce
    await (
      addColumns(db.schema.createTable('mfa_codes'), dialect, {
        device_table: 'text',
        device_id: 'int',
        attempt: 'text',
        token_hash: 'text',
        valid_until: 'datetime',
      }) as any
    )
      .addPrimaryKeyConstraint('mfa_codes_pk', ['device_table', 'device_id', 'attempt'])
      .execute();
    await db.schema.createIndex('mfa_codes_valid_until').on('mfa_codes').column('valid_until').execute();

    // one row per (scope, key): scope "device", "attempt", "ip", "account"
    await (
      addColumns(db.schema.createTable('mfa_sends'), dialect, {
        scope: 'text',
        key: 'text',
        count: 'int',
        window_start: 'datetime',
      }) as any
    )
      .addPrimaryKeyConstraint('mfa_sends_pk', ['scope', 'key'])
      .execute();
    await db.schema.createIndex('mfa_sends_window_start').on('mfa_sends').column('window_start').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('mfa_sends').ifExists().execute();
    await db.schema.dropTable('mfa_codes').ifExists().execute();
  },
});
