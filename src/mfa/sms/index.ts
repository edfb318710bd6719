/**
 * SMS devices: choosing one texts it a code (within the send limits) bound to the login attempt; the code is checked
 * once. A verify-only number is kept as a hash and never offered. Enrolled only through a flow (no admin create).
 */
import { S } from '../../api/schema.js';
import { defineDeviceClass } from '../device-class.js';
import { reserveSend, SEND_LIMIT_MESSAGE } from '../send-limit.js';
import { consumeCode, newNonce } from '../sidechannel.js';
import { sendSmsDeviceCode } from './send-code.js';
import type { SmsDevicesTable } from './table.js';

export const smsClass = defineDeviceClass<SmsDevicesTable>({
  id: 'sms',
  table: 'sms_devices',
  app: 'authentik_stages_authenticator_sms',
  model: 'SMSDevice',
  verbose: 'SMS Device',
  // a verify-only number is stored as a hash and cannot receive codes
  where: (q) => q.where('phone_number', 'not like', 'hash:%'),
  challenger: {
    answer: 'code',
    attemptBound: true,
    challenge: (_v, devices) => (devices[0] ? { device: devices[0], challenge: {} } : undefined),
    async initiate({ c, user }, devices, deviceId) {
      const nonce = (c.ctx.sideChannelNonce ??= newNonce());
      const d = devices.find((x) => x.id === deviceId);
      if (!d) return undefined;
      if (!(await reserveSend(c.svc.db, c.svc.config.mfaSend, { table: 'sms_devices', deviceId: d.id, nonce, ip: c.clientIp, identifier: user.username }))) return SEND_LIMIT_MESSAGE;
      await sendSmsDeviceCode(c.svc, d, nonce);
      return undefined;
    },
    async verify({ c }, devices, code) {
      const nonce = c.ctx.sideChannelNonce;
      if (!nonce) return undefined;
      for (const d of devices)
        if (await consumeCode(c.svc.db, 'sms_devices', d, c.svc.secretKey, nonce, code as string, c.config.sms_otp_throttling_factor)) return { device: d };
      return undefined;
    },
  },
  api: {
    props: { phone_number: S.ro(S.text()) },
    createRefused: 'E-mail and SMS devices are enrolled by proving the address, through an enrolment flow.',
  },
});
