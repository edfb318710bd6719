/** TOTP devices (authenticator apps): codes checked with ±1 step, once per step; admin create shows the otpauth URL once. */
import { S } from '../../rest/schema.js';
import { secretsOf } from '../../instance/secrets.js';
import { defineDeviceClass } from '../device-class.js';
import type { TotpDevicesTable } from './table.js';
import { configUrl, newTotpDeviceState, newTotpKey, sealTotpKey, verifyTotp } from './totp.js';

export const totpClass = defineDeviceClass<TotpDevicesTable>({
  id: 'totp',
  credentialType: 'pin',
  table: 'totp_devices',
  app: 'authentik_stages_authenticator_totp',
  model: 'TOTPDevice',
  verbose: 'TOTP Device',
  challenger: {
    answer: 'code',
    challenge: (_v, devices) => (devices[0] ? { device: devices[0], challenge: {} } : undefined),
    async verify(v, devices, code) {
      for (const d of devices)
        if (await verifyTotp(v.c.svc.db, d, code as string, v.c.config.totp_otp_throttling_factor, v.c.durableLater)) return { device: d };
      return undefined;
    },
  },
  api: {
    adminProps: { digits: S.wo(S.int({ 'x-optional': true, minimum: 6, maximum: 8 })) },
    async create(tx, data, a) {
      const key = newTotpKey();
      const digits = (data.digits as number | undefined) === 8 ? 8 : 6;
      const row = await tx
        .insertInto('totp_devices')
        .values({
          ...a.base,
          key: sealTotpKey(secretsOf(a.db), key),
          digits,
          ...newTotpDeviceState,
        } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const user = await tx.selectFrom('users').select('username').where('id', '=', a.base.user_id).executeTakeFirstOrThrow();
      return { id: row.id, shownOnce: { config_url: configUrl({ key, digits, step: 30 }, user.username, a.brandTitle) } };
    },
  },
  secretColumns: [{ table: 'totp_devices', pk: 'id', column: 'key' }],
});
