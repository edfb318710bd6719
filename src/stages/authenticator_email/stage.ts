/**
 * E-mail enrolment: the code goes to the user's address, else one a prompt stage collected (`email`), else one they
 * enter — a new one entered replaces the one a code went to; the device is usable once the code comes back. An address
 * enrolled on the stage already is refused ("Invalid email"); as in authentik, the response's errors are non-field
 * errors. Codes are hashed, expiring, single use, and bound to this login attempt.
 */
import { parseResponse } from '../../flows/engine/response.js';
import { deny, fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import { AuthenticatorEmailChallengeResponseRequest, type AuthenticatorEmailChallenge } from './challenge.js';
import type { EmailDevicesTable } from '../../mfa/email/table.js';
import { confirmDevice, enrolledOnStage, hasKey, insertUnconfirmedDevice, maskEmail, newNonce } from '../../mfa/sidechannel.js';
import { sendFirstCode, SEND_LIMIT_MESSAGE } from '../../mfa/send-limit.js';
import { deviceEnrolled } from '../enrolment.js';
import { sendEmailDeviceCode, type EmailStageConfig } from '../../mfa/email/send-code.js';

/** the unconfirmed device being enrolled */
interface EmailSetupState {
  device?: number;
}

type Call = StageCall<EmailStageConfig, EmailSetupState>;
const responseProps = responseFields(AuthenticatorEmailChallengeResponseRequest);

const nonceOf = (c: Call) => (c.ctx.sideChannelNonce ??= newNonce());

async function pendingDevice(c: Call, userId: number): Promise<EmailDevicesTable | undefined> {
  const id = c.state.device;
  if (id === undefined) return undefined;
  return (await c.svc.db
    .selectFrom('email_devices')
    .selectAll()
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('confirmed', '=', 0)
    .executeTakeFirst()) as EmailDevicesTable | undefined;
}

/** a new unconfirmed device with a code on its way; undefined (no device, nothing sent) when a send limit is reached */
async function startDevice(c: Call, userId: number, email: string): Promise<EmailDevicesTable | undefined> {
  const device = { user_id: userId, stage: c.config.pk, name: c.config.friendly_name || 'Email Device' };
  const id = await insertUnconfirmedDevice(c.svc.db, 'email_devices', device, { email });
  const user = (await c.pendingUser())!;
  const request = { table: 'email_devices', deviceId: id, nonce: nonceOf(c), ip: c.clientIp, identifier: user.username } as const;
  const d = await sendFirstCode<EmailDevicesTable>(c.svc.db, c.svc.config.mfaSend, request, (device) =>
    sendEmailDeviceCode(c.svc, device, user, nonceOf(c), c.config),
  );
  if (d) c.state.device = id;
  return d;
}

const limited = () => invalid(challenge(undefined), fieldError('email', SEND_LIMIT_MESSAGE));
/** authentik raises these in the response's validate(): they come back as non-field errors */
const refused = (d: EmailDevicesTable | undefined, message: string) => invalid(challenge(d), fieldError('non_field_errors', message));

const challenge = (d: EmailDevicesTable | undefined): StageChallenge<typeof AuthenticatorEmailChallenge> =>
  d
    ? { component: 'ak-stage-authenticator-email', email: maskEmail(d.email), email_required: false }
    : { component: 'ak-stage-authenticator-email', email_required: true };

/** the address known without asking: the user's, else one a prompt stage collected as `email` (authentik's _has_email) */
function knownAddress(c: Call, user: { email: string }): string | undefined {
  if (user.email) return user.email;
  const prompted = c.ctx.promptData?.email;
  return typeof prompted === 'string' && prompted !== '' ? prompted : undefined;
}

/** an address already enrolled on this stage, by anyone (authentik: "Invalid email") */
const taken = (c: Call, email: string) => enrolledOnStage(c.svc.db, 'email_devices', c.config.pk, 'email', [email]);

export const authenticatorEmailRuntime: StageRuntime<EmailStageConfig, EmailSetupState> = {
  component: 'ak-stage-authenticator-email',
  withUserInfo: true,
  async challenge(c) {
    const user = await c.pendingUser();
    if (!user) return deny();
    let d = await pendingDevice(c, user.id);
    const known = d ? undefined : knownAddress(c, user);
    // an address known beforehand that is enrolled already is dropped: the person is asked for one
    if (known && !(await taken(c, known))) {
      d = await startDevice(c, user.id, known);
      if (!d) return limited();
    }
    return show(challenge(d));
  },
  async respond(c, body) {
    const user = await c.pendingUser();
    if (!user) return deny();
    let d = await pendingDevice(c, user.id);
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(challenge(d), parsed.errors);
    const code = parsed.data.code as string | null | undefined;
    const typed = parsed.data.email as string | null | undefined;
    // the code field sent empty while a code is on its way: that field is what is missing
    if (!code && hasKey(body, 'code') && d && !typed)
      return invalid(challenge(d), fieldError('code', 'This field is required.', 'required'));
    if (!code) {
      // an address (a new one replaces the one a code went to), and a code sent to it
      const email = typed || (d ? undefined : knownAddress(c, user));
      if (!email) return refused(d, 'email required');
      if (await taken(c, email)) return refused(d, 'Invalid email');
      if (d) {
        await c.svc.db.deleteFrom('email_devices').where('id', '=', d.id).where('confirmed', '=', 0).execute();
        c.state.device = undefined;
      }
      d = await startDevice(c, user.id, email);
      return d ? show(challenge(d)) : limited();
    }
    if (!d) return refused(d, 'email required');
    const address = { column: 'email', values: [d.email] } as const;
    const result = await confirmDevice(c.svc.db, 'email_devices', d, address, { secretKey: c.svc.secretKey, nonce: nonceOf(c), code });
    if (result === 'taken') return refused(d, 'Invalid email');
    if (result === 'mismatch') return refused(d, 'Code does not match');
    c.state.device = undefined;
    await deviceEnrolled(c, user, 'email', d);
    return ok();
  },
};
