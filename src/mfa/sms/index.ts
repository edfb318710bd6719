/**
 * SMS devices: choosing one texts it a code (within the send limits) bound to the login attempt; the code is checked
 * once. A verify-only number is kept as a hash and never offered. Enrolled only through a flow (no admin create).
 */
import { S } from '../../rest/schema.js';
import { defineDeviceClass } from '../device-class.js';
import { sideChannelChallenger } from '../sidechannel-challenger.js';
import { sendSmsDeviceCode } from './send-code.js';
import type { SmsDevicesTable } from './table.js';

export const smsClass = defineDeviceClass<SmsDevicesTable>({
  id: 'sms',
  credentialType: 'phone-sms',
  table: 'sms_devices',
  app: 'authentik_stages_authenticator_sms',
  model: 'SMSDevice',
  verbose: 'SMS Device',
  // a verify-only number is stored as a hash and cannot receive codes
  where: (q) => q.where('phone_number', 'not like', 'hash:%'),
  challenger: sideChannelChallenger<SmsDevicesTable>({
    table: 'sms_devices',
    challenge: () => ({}),
    transport: 'SMS',
    send: ({ c }, d, nonce) => sendSmsDeviceCode(c.svc, d, nonce),
    factor: ({ c }) => c.config.sms_otp_throttling_factor,
  }),
  api: {
    props: { phone_number: S.ro(S.text()) },
    createRefused: 'SMS devices are enrolled by proving the phone number, through an enrolment flow.',
  },
});
