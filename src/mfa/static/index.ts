/** Recovery codes: single use, stored as HMACs; admin create shows the codes once (every later response: `token_set: []`). */
import { Type } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { defineDeviceClass } from '../device-class.js';
import type { StaticDevicesTable } from './table.js';
import { generateStaticToken, hashStaticToken, verifyStatic } from './static.js';

export const staticClass = defineDeviceClass<StaticDevicesTable>({
  id: 'static',
  credentialType: 'pin',
  table: 'static_devices',
  app: 'authentik_stages_authenticator_static',
  model: 'StaticDevice',
  verbose: 'Static Device',
  challenger: {
    answer: 'code',
    challenge: (_v, devices) => (devices[0] ? { device: devices[0], challenge: {} } : undefined),
    async verify(v, devices, code) {
      for (const d of devices)
        if (await verifyStatic(v.c.svc.db, v.c.svc.secretKey, d, code as string, v.c.config.static_otp_throttling_factor))
          return { device: d };
      return undefined;
    },
  },
  api: {
    props: { token_set: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/StaticDeviceToken' }), { 'x-computed': true })) },
    adminProps: {
      token_count: S.wo(S.int({ 'x-optional': true, minimum: 1, maximum: 100 })),
      token_length: S.wo(S.int({ 'x-optional': true, minimum: 6, maximum: 100 })),
    },
    render: async () => () => ({ token_set: [] }),
    async create(tx, data, a) {
      const row = await tx
        .insertInto('static_devices')
        .values({ ...a.base, throttling_failure_timestamp: null, throttling_failure_count: 0 } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const count = (data.token_count as number | undefined) ?? 6;
      const length = (data.token_length as number | undefined) ?? 12;
      const tokens = Array.from({ length: count }, () => generateStaticToken(length));
      for (const token of tokens)
        await tx
          .insertInto('static_tokens')
          .values({ device_id: row.id, token: hashStaticToken(a.secretKey, token) } as never)
          .execute();
      return { id: row.id, shownOnce: { token_set: tokens.map((token) => ({ token })) } };
    },
  },
});
