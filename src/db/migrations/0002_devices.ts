import type { Kysely } from 'kysely';
import { addColumns, tableWithAutoId, type VersionedMigration } from '../ddl.js';

/** MFA devices: TOTP, static (recovery) codes, WebAuthn credentials. */
export const m0002_devices: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    const autoId = (name: string) => tableWithAutoId(db, dialect, name);
    const owner = { type: 'int' as const, notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' as const } };
    const common = {
      user_id: owner,
      name: 'text' as const,
      confirmed: 'bool' as const,
      created: 'datetime' as const,
      last_updated: 'datetime' as const,
      last_used: { type: 'datetime' as const },
    };
    // failed verifications back off exponentially: refused while now - failure_at < factor * 2^(count-1) seconds
    const throttle = { throttling_failure_timestamp: { type: 'datetime' as const }, throttling_failure_count: 'int' as const };

    await addColumns(autoId('totp_devices'), dialect, {
      ...common,
      ...throttle,
      key: 'text',
      digits: 'int',
      step: 'int',
      t0: 'int',
      drift: 'int',
      // last accepted time step: a code is accepted once per step (replay refused)
      last_t: 'int',
    }).execute();
    await addColumns(autoId('static_devices'), dialect, { ...common, ...throttle }).execute();
    await addColumns(autoId('static_tokens'), dialect, {
      device_id: { type: 'int', notNull: true, ref: { table: 'static_devices', column: 'id', onDelete: 'cascade' } },
      token: 'text',
    }).execute();
    await addColumns(autoId('webauthn_devices'), dialect, {
      ...common,
      credential_id: { type: 'text', notNull: true, unique: true },
      public_key: 'text',
      sign_count: 'int',
      rp_id: 'text',
      aaguid: 'text',
      transports: 'json',
    }).execute();
    for (const t of ['totp_devices', 'static_devices', 'webauthn_devices'])
      await db.schema.createIndex(`${t}_user`).on(t).column('user_id').execute();
    await db.schema.createIndex('static_tokens_device').on('static_tokens').column('device_id').execute();
  },
  async down() {
    throw new Error('irreversible');
  },
});
