/**
 * TOTP enrolment: an unconfirmed device is created for the user and shown as an otpauth:// URL; it becomes usable
 * only when the person proves their app has it by entering a current code.
 */
import { parseResponse } from '../../flows/engine/response.js';
import { deny, fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import { AuthenticatorTOTPChallengeResponseRequest, type AuthenticatorTOTPChallenge } from './challenge.js';
import { secretsOf } from '../../instance/secrets.js';
import type { TotpDevicesTable } from '../../mfa/totp/table.js';
import { configUrl, newTotpDeviceState, newTotpKey, sealTotpKey, totpKey, verifyTotp } from '../../mfa/totp/totp.js';
import { deviceEnrolled } from '../enrolment.js';
import type { StageConfig } from '../types.js';
import type { authenticatorTotpSchema } from './schema.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type TotpSetupConfig = StageConfig<typeof authenticatorTotpSchema>;

/** the unconfirmed device being enrolled */
interface TotpSetupState {
  device?: number;
}

const responseProps = responseFields(AuthenticatorTOTPChallengeResponseRequest);

async function device(c: StageCall<TotpSetupConfig, TotpSetupState>, userId: number): Promise<TotpDevicesTable> {
  const id = c.state.device;
  if (id !== undefined) {
    const d = (await c.svc.db
      .selectFrom('totp_devices')
      .selectAll()
      .where('id', '=', id)
      .where('user_id', '=', userId)
      .where('confirmed', '=', 0)
      .executeTakeFirst()) as TotpDevicesTable | undefined;
    if (d) return d;
  }
  const now = new Date().toISOString();
  const row = await c.svc.db
    .insertInto('totp_devices')
    .values({
      user_id: userId,
      name: c.config.friendly_name || 'TOTP Authenticator',
      confirmed: 0,
      created: now,
      last_updated: now,
      last_used: null,
      key: sealTotpKey(secretsOf(c.svc.db), newTotpKey()),
      digits: Number(c.config.digits) === 8 ? 8 : 6,
      ...newTotpDeviceState,
    } as never)
    .returning('id')
    .executeTakeFirstOrThrow();
  c.state.device = row.id;
  return (await c.svc.db.selectFrom('totp_devices').selectAll().where('id', '=', row.id).executeTakeFirstOrThrow()) as TotpDevicesTable;
}

async function challenge(c: StageCall<TotpSetupConfig, TotpSetupState>) {
  const user = await c.pendingUser();
  if (!user) return undefined;
  const d = await device(c, user.id);
  const shown: StageChallenge<typeof AuthenticatorTOTPChallenge> = {
    component: 'ak-stage-authenticator-totp',
    config_url: configUrl({ ...d, key: totpKey(c.svc.db, d) }, user.username, (await c.svc.brand(c.req.host)).branding_title),
  };
  return { user, d, challenge: shown };
}

export const authenticatorTotpRuntime: StageRuntime<TotpSetupConfig, TotpSetupState> = {
  component: 'ak-stage-authenticator-totp',
  withUserInfo: true,
  async challenge(c) {
    const r = await challenge(c);
    return r ? show(r.challenge) : deny();
  },
  async respond(c, body) {
    const r = await challenge(c);
    if (!r) return deny();
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(r.challenge, parsed.errors);
    if (!(await verifyTotp(c.svc.db, r.d, parsed.data.code as string, 0)))
      return invalid(r.challenge, fieldError('code', 'Code does not match'));
    await c.svc.db
      .updateTable('totp_devices')
      .set({ confirmed: 1, last_updated: new Date().toISOString() })
      .where('id', '=', r.d.id)
      .execute();
    c.state.device = undefined;
    await deviceEnrolled(c, r.user, 'totp', r.d);
    return ok();
  },
};
