/**
 * Duo enrolment: Duo's enroll call gives an activation QR code; once Duo reports the activation complete
 * (enroll_status), the device is saved. Login pushes go through Duo's auth call (authenticator validation).
 */
import type { UsersTable } from '../../db/types.js';
import { deny, fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageChallenge } from '../../flows/engine/challenge-types.js';
import type { AuthenticatorDuoChallenge } from './challenge.js';
import { deviceEnrolled } from '../enrolment.js';
import { duoCall, type DuoCredentials } from '../../mfa/duo/duo-api.js';

export type DuoStageConfig = DuoCredentials & { pk: string; name: string; friendly_name: string };
/** Duo's enrolment in progress (its user and activation code) */
export interface DuoSetupState {
  enrolment?: { user_id: string; activation_code: string; activation_barcode: string };
}

type Call = StageCall<DuoStageConfig, DuoSetupState>;

interface Enrol {
  user_id: string;
  activation_code: string;
  activation_barcode: string;
}

async function enrolment(c: Call, user: UsersTable): Promise<Enrol> {
  const existing = c.state.enrolment;
  if (existing) return existing;
  const r = await duoCall<Enrol>(c.config, '/auth/v2/enroll', { username: user.username });
  const e = { user_id: r.user_id, activation_code: r.activation_code, activation_barcode: r.activation_barcode };
  c.state.enrolment = e;
  return e;
}

const challengeOf = (c: Call, e: Enrol): StageChallenge<typeof AuthenticatorDuoChallenge> => ({
  component: 'ak-stage-authenticator-duo',
  activation_barcode: e.activation_barcode,
  activation_code: e.activation_code,
  stage_uuid: c.config.pk,
});

export const authenticatorDuoRuntime: StageRuntime<DuoStageConfig, DuoSetupState> = {
  component: 'ak-stage-authenticator-duo',
  withUserInfo: true,
  async challenge(c) {
    const user = await c.pendingUser();
    if (!user) return deny();
    return show(challengeOf(c, await enrolment(c, user)));
  },
  async respond(c) {
    const user = await c.pendingUser();
    if (!user) return deny();
    const e = await enrolment(c, user);
    const status = await duoCall<string>(c.config, '/auth/v2/enroll_status', { user_id: e.user_id, activation_code: e.activation_code });
    if (status === 'success') {
      const now = new Date().toISOString();
      const d = await c.svc.db
        .insertInto('duo_devices')
        .values({
          user_id: user.id,
          stage: c.config.pk,
          name: c.config.friendly_name || 'Duo Device',
          confirmed: 1,
          created: now,
          last_updated: now,
          last_used: null,
          duo_user_id: e.user_id,
        } as never)
        // (the same Duo user imported by an administrator meanwhile: that device is the one enrolled)
        .onConflict((oc) => oc.columns(['user_id', 'duo_user_id']).doNothing())
        .returning(['id', 'name'])
        .executeTakeFirst()
        .then(
          async (made) =>
            made ??
            (await c.svc.db
              .selectFrom('duo_devices')
              .select(['id', 'name'])
              .where('user_id', '=', user.id)
              .where('duo_user_id', '=', e.user_id)
              .executeTakeFirstOrThrow()),
        );
      c.state.enrolment = undefined;
      await deviceEnrolled(c, user, 'duo', d);
      return ok();
    }
    if (status === 'invalid') {
      // the activation expired: a new one
      c.state.enrolment = undefined;
      return invalid(
        challengeOf(c, await enrolment(c, user)),
        fieldError('non_field_errors', 'The activation expired. Scan the new code.'),
      );
    }
    return invalid(
      challengeOf(c, e),
      fieldError('non_field_errors', 'Duo activation is not complete yet. Scan the code with the Duo Mobile app.'),
    );
  },
};
