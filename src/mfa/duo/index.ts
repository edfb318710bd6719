/**
 * Duo devices: a push through Duo's Auth API with the credentials of the stage that enrolled the device. Duo
 * unreachable or answering an error refuses too, but is not a failed attempt. Enrolled only through a flow.
 */
import { Type } from '@sinclair/typebox';
import { defineDeviceClass } from '../device-class.js';
import { duoPush } from './push.js';
import type { DuoDevicesTable } from './table.js';

const DENIED = 'Duo denied access';

export const duoClass = defineDeviceClass<DuoDevicesTable>({
  id: 'duo',
  credentialType: 'app',
  table: 'duo_devices',
  app: 'authentik_stages_authenticator_duo',
  model: 'DuoDevice',
  verbose: 'Duo Device',
  challenger: {
    answer: { field: 'duo', schema: Type.Integer({ nullable: true, 'x-optional': true }) },
    challenge: (_v, devices) => (devices[0] ? { device: devices[0], challenge: {} } : undefined),
    async verify({ c, user }, devices, deviceId) {
      const device = devices.find((d) => d.id === deviceId);
      if (!device) return { refused: 'Invalid device' };
      const verdict = await duoPush(c.svc, device, user, c.req).catch(() => 'error' as const);
      if (verdict === true) {
        await c.svc.db.updateTable('duo_devices').set({ last_used: new Date().toISOString() }).where('id', '=', device.id).execute();
        return { device };
      }
      return verdict === false ? { refused: DENIED, code: 'denied', failure: 'duo denied' } : { refused: DENIED, code: 'denied' };
    },
  },
  api: {
    listUnconfirmed: true,
    createRefused:
      'Duo devices are enrolled through a Duo setup stage in an enrolment flow, or imported with the stage’s import_device_manual.',
  },
});
