/**
 * E-mail devices: choosing one sends it a code (within the send limits) bound to the login attempt; the code is
 * checked once. Enrolled only by proving the address (no admin create).
 */
import { S } from '../../api/schema.js';
import { defineDeviceClass } from '../device-class.js';
import { reserveSend, SEND_LIMIT_MESSAGE } from '../send-limit.js';
import { consumeCode, maskEmail, newNonce } from '../sidechannel.js';
import { sendEmailDeviceCode } from './send-code.js';
import type { EmailDevicesTable } from './table.js';

export const emailClass = defineDeviceClass<EmailDevicesTable>({
  id: 'email',
  table: 'email_devices',
  app: 'authentik_stages_authenticator_email',
  model: 'EmailDevice',
  verbose: 'Email Device',
  challenger: {
    answer: 'code',
    attemptBound: true,
    challenge: (_v, devices) => (devices[0] ? { device: devices[0], challenge: { email: maskEmail(devices[0].email) } } : undefined),
    async initiate({ c, user }, devices, deviceId) {
      const nonce = (c.ctx.sideChannelNonce ??= newNonce());
      const d = devices.find((x) => x.id === deviceId);
      if (!d) return undefined;
      if (!(await reserveSend(c.svc.db, c.svc.config.mfaSend, { table: 'email_devices', deviceId: d.id, nonce, ip: c.clientIp, identifier: user.username }))) return SEND_LIMIT_MESSAGE;
      await sendEmailDeviceCode(c.svc, d, user, nonce);
      return undefined;
    },
    async verify({ c }, devices, code) {
      const nonce = c.ctx.sideChannelNonce;
      if (!nonce) return undefined;
      for (const d of devices)
        if (await consumeCode(c.svc.db, 'email_devices', d, c.svc.secretKey, nonce, code as string, c.config.email_otp_throttling_factor)) return { device: d };
      return undefined;
    },
  },
  api: {
    props: { email: S.ro(S.text()) },
    createRefused: 'E-mail and SMS devices are enrolled by proving the address, through an enrolment flow.',
  },
});
