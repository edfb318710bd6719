/**
 * SMS enrolment: the person enters a phone number (or a prompt stage collected it as `phone`), receives a code and
 * sends it back; a new number entered replaces the one a code went to. With `verify_only` the number only proves
 * possession: a hash is kept and the device is not offered for login. As in authentik, the response's errors are
 * non-field errors.
 */
import { createHash } from 'node:crypto';
import { parseResponse } from '../../flows/engine/response.js';
import { deny, fieldError, invalid, ok, show, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import { AuthenticatorSMSChallengeResponseRequest, type AuthenticatorSMSChallenge } from './challenge.js';
import type { SmsDevicesTable } from '../../mfa/sms/table.js';
import { confirmDevice, enrolledOnStage, hasKey, insertUnconfirmedDevice, newNonce } from '../../mfa/sidechannel.js';
import { sendFirstCode, SEND_LIMIT_MESSAGE } from '../../mfa/send-limit.js';
import { deviceEnrolled } from '../enrolment.js';
import { SmsRefused, sendSmsDeviceCode, type SmsStageConfig } from '../../mfa/sms/send-code.js';

/** the unconfirmed device being enrolled */
interface SmsSetupState {
  device?: number;
}

type Call = StageCall<SmsStageConfig, SmsSetupState>;
const responseProps = responseFields(AuthenticatorSMSChallengeResponseRequest);
/** how a verify-only number is kept (authentik's `hash_phone_number`) */
const hashPhone = (phone: string) => `hash:${createHash('sha256').update(phone).digest('hex')}`;
const nonceOf = (c: Call) => (c.ctx.sideChannelNonce ??= newNonce());
const challenge = (d: SmsDevicesTable | undefined): StageChallenge<typeof AuthenticatorSMSChallenge> => ({
  component: 'ak-stage-authenticator-sms',
  phone_number_required: !d,
});

async function pendingDevice(c: Call, userId: number): Promise<SmsDevicesTable | undefined> {
  const id = c.state.device;
  if (id === undefined) return undefined;
  return (await c.svc.db
    .selectFrom('sms_devices')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('confirmed', '=', 0)
    .executeTakeFirst()) as SmsDevicesTable | undefined;
}

/** authentik raises these in the response's validate(): they come back as non-field errors */
const refused = (d: SmsDevicesTable | undefined, message: string) => invalid(challenge(d), fieldError('non_field_errors', message));
const normalised = (phone: string) => phone.replace(/[\s()-]/g, '');

/** a number a prompt stage collected as `phone` (authentik's _has_phone_number), normalised; undefined without one */
function promptedPhone(c: Call): string | undefined {
  const v = c.ctx.promptData?.phone;
  return typeof v === 'string' && normalised(v) !== '' ? normalised(v) : undefined;
}

/** as upstream: a number already enrolled on this stage (in clear or as a verify-only hash) is not taken again */
const taken = (c: Call, phone: string) => enrolledOnStage(c.svc.db, 'sms_devices', c.config.pk, 'phone_number', [phone, hashPhone(phone)]);

/**
 * a new unconfirmed device with a code on its way, else the answer why none is: a send limit reached, or the provider
 * refusing the number (in its words); no device is left behind then
 */
async function begin(c: Call, user: { id: number; username: string }, phone: string): Promise<SmsDevicesTable | Outcome> {
  const device = { user_id: user.id, stage: c.config.pk, name: c.config.friendly_name || 'SMS Device' };
  const id = await insertUnconfirmedDevice(c.svc.db, 'sms_devices', device, { phone_number: phone });
  const request = { table: 'sms_devices', deviceId: id, nonce: nonceOf(c), ip: c.clientIp, identifier: user.username } as const;
  let created: SmsDevicesTable | undefined;
  try {
    created = await sendFirstCode<SmsDevicesTable>(c.svc.db, c.svc.config.mfaSend, request, (device) =>
      sendSmsDeviceCode(c.svc, device, nonceOf(c), c.config),
    );
  } catch (e) {
    if (e instanceof SmsRefused) return refused(undefined, e.message);
    throw e;
  }
  if (!created) return invalid(challenge(undefined), fieldError('phone_number', SEND_LIMIT_MESSAGE));
  c.state.device = id;
  return created;
}

const isOutcome = (r: SmsDevicesTable | Outcome): r is Outcome => 'type' in r;

export const authenticatorSmsRuntime: StageRuntime<SmsStageConfig, SmsSetupState> = {
  component: 'ak-stage-authenticator-sms',
  withUserInfo: true,
  async challenge(c) {
    const user = await c.pendingUser();
    if (!user) return deny();
    let d = await pendingDevice(c, user.id);
    // a number a prompt collected gets its code at once; one enrolled already is dropped and the person asked
    const prompted = d ? undefined : promptedPhone(c);
    if (prompted && !(await taken(c, prompted))) {
      // (the provider refusing the collected number: the person is asked for one, told why)
      const started = await begin(c, user, prompted);
      if (isOutcome(started)) return started;
      d = started;
    }
    return show(challenge(d));
  },
  async respond(c, body) {
    const user = await c.pendingUser();
    if (!user) return deny();
    const d = await pendingDevice(c, user.id);
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(challenge(d), parsed.errors);
    const code = parsed.data.code as string | null | undefined;
    const typed = parsed.data.phone_number as string | null | undefined;
    // the code field sent empty while a code is on its way: that field is what is missing
    if (!code && hasKey(body, 'code') && d && !typed)
      return invalid(challenge(d), fieldError('code', 'This field is required.', 'required'));
    if (!code) {
      // a number (a new one replaces the one a code went to), and a code sent to it
      const phone = typed ? normalised(typed) : d ? undefined : promptedPhone(c);
      if (!phone) return refused(d, 'phone_number required');
      if (await taken(c, phone)) return refused(d, 'Invalid phone number');
      if (d) {
        await c.svc.db.deleteFrom('sms_devices').where('id', '=', d.id).where('confirmed', '=', 0).execute();
        c.state.device = undefined;
      }
      const started = await begin(c, user, phone);
      return isOutcome(started) ? started : show(challenge(started));
    }
    if (!d) return refused(d, 'phone_number required');
    const phone = c.config.verify_only ? hashPhone(d.phone_number) : d.phone_number;
    const address = { column: 'phone_number', values: [d.phone_number, hashPhone(d.phone_number)] } as const;
    const secret = { secretKey: c.svc.secretKey, nonce: nonceOf(c), code };
    const result = await confirmDevice(c.svc.db, 'sms_devices', d, address, secret, { phone_number: phone });
    if (result === 'taken') return refused(d, 'Invalid phone number');
    if (result === 'mismatch') return refused(d, 'Code does not match');
    c.state.device = undefined;
    await deviceEnrolled(c, user, 'sms', d);
    return ok();
  },
};
