/**
 * E-mail devices: choosing one sends it a code (within the send limits) bound to the login attempt; the code is
 * checked once. Enrolled only by proving the address (no admin create).
 */
import { S } from '../../rest/schema.js';
import { defineDeviceClass } from '../device-class.js';
import { sideChannelChallenger } from '../sidechannel-challenger.js';
import { maskEmail } from '../sidechannel.js';
import { sendEmailDeviceCode } from './send-code.js';
import type { EmailDevicesTable } from './table.js';

export const emailClass = defineDeviceClass<EmailDevicesTable>({
  id: 'email',
  // (CAEP names no e-mail credential: authentik's SSF map has none either)
  credentialType: null,
  table: 'email_devices',
  app: 'authentik_stages_authenticator_email',
  model: 'EmailDevice',
  verbose: 'Email Device',
  challenger: sideChannelChallenger<EmailDevicesTable>({
    table: 'email_devices',
    challenge: (d) => ({ email: maskEmail(d.email) }),
    transport: 'e-mail',
    send: ({ c, user }, d, nonce) => sendEmailDeviceCode(c.svc, d, user, nonce),
    factor: ({ c }) => c.config.email_otp_throttling_factor,
  }),
  api: {
    props: { email: S.ro(S.text()) },
    createRefused: 'E-mail devices are enrolled by proving the address, through an enrolment flow.',
  },
});
