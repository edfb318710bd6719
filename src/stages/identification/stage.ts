/**
 * Identification at run time: find the user by the configured fields, optionally check an embedded captcha and
 * password, and never reveal whether the account exists (same message; same cost: captcha for everyone, and a
 * dummy hash for unknown users when a password is embedded).
 */
import { authenticatePassword, findUser, noteAuthentication } from '../../auth/authenticate.js';
import { dummyHash, verifyPassword } from '../../auth/passwords.js';
import { THROTTLED_MESSAGE } from '../../auth/lockout.js';
import { lowerReputation } from '../../auth/reputation.js';
import { recordPasswordFailure, reserveCheck } from '../../auth/password-attempt.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import { loginButtons } from '../../sources/login-buttons.js';
import { DEFAULT_AVATAR } from '../../flows/engine/challenge.js';
import { parseResponse } from '../../flows/engine/response.js';
import { fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import { IdentificationChallengeResponseRequest, type IdentificationChallenge } from './challenge.js';
import { captchaChallengeFields, verifyCaptcha, withPlanKeys, type CaptchaConfig } from '../captcha/index.js';
import type { PasswordConfig } from '../password/index.js';
import { passkeyChallenge, passkeyLogin, type PasskeyState, type ValidateConfig } from '../authenticator_validate/index.js';
import type { StageConfig } from '../types.js';
import type { identificationSchema } from './schema.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type IdentificationConfig = StageConfig<typeof identificationSchema>;

const FAILED = 'Failed to authenticate.';

const responseProps = responseFields(IdentificationChallengeResponseRequest);

async function linked(c: StageCall<IdentificationConfig, PasskeyState>, flowUuid: string | null): Promise<string | undefined> {
  if (!flowUuid) return undefined;
  // flows are admin data: the slug is kept until the next configuration change (no statement per render)
  const db = c.svc.db;
  const f = await cachedAdminData(db, `flow-slug:${flowUuid}`, () =>
    db.selectFrom('flows').select('slug').where('flow_uuid', '=', flowUuid).executeTakeFirst(),
  );
  if (!f) return undefined;
  const qs = new URLSearchParams(c.query).toString();
  return `/if/flow/${f.slug}/${qs ? `?${qs}` : ''}`;
}

async function embedded(c: StageCall<IdentificationConfig, PasskeyState>) {
  const pw = c.config.password_stage ? await c.svc.stageConfig<PasswordConfig>('passwordstage', c.config.password_stage) : undefined;
  const captcha = c.config.captcha_stage ? await c.svc.stageConfig<CaptchaConfig>('captchastage', c.config.captcha_stage) : undefined;
  const webauthn = c.config.webauthn_stage
    ? await c.svc.stageConfig<ValidateConfig>('authenticatorvalidatestage', c.config.webauthn_stage)
    : undefined;
  return { pw, captcha, webauthn };
}

async function challengeOf(c: StageCall<IdentificationConfig, PasskeyState>): Promise<StageChallenge<typeof IdentificationChallenge>> {
  const { pw, captcha, webauthn } = await embedded(c);
  const [enroll, recovery, passwordless] = await Promise.all([
    linked(c, c.config.enrollment_flow),
    linked(c, c.config.recovery_flow),
    linked(c, c.config.passwordless_flow),
  ]);
  return {
    component: 'ak-stage-identification',
    user_fields: c.config.user_fields,
    password_fields: !!pw,
    allow_show_password: pw?.allow_show_password ?? false,
    // the column holds one of the choices the flow API validates
    flow_designation: c.flow.designation as IdentificationChallenge['flow_designation'],
    captcha_stage: captcha
      ? {
          component: 'ak-stage-captcha',
          pending_user: '',
          pending_user_avatar: DEFAULT_AVATAR,
          ...captchaChallengeFields(withPlanKeys(captcha, c.ctx)),
        }
      : null,
    ...(enroll ? { enroll_url: enroll } : {}),
    ...(recovery ? { recovery_url: recovery } : {}),
    ...(passwordless ? { passwordless_url: passwordless } : {}),
    primary_action: c.flow.designation === 'authentication' ? 'Log in' : 'Continue',
    sources: await loginButtons(c.svc.db, c.config.sources),
    show_source_labels: c.config.show_source_labels,
    enable_remember_me: c.config.enable_remember_me,
    // a fresh user-less challenge on every render (passkey autofill / conditional UI)
    passkey_challenge: webauthn ? passkeyChallenge(c, webauthn) : null,
    ...(c.ctx.pendingUserIdentifier ? { pending_user_identifier: c.ctx.pendingUserIdentifier } : {}),
    // the person was on their way to an application (authentik's PLAN_CONTEXT_APPLICATION): "Log in to continue to …"
    ...(c.ctx.application ? { application_pre: c.ctx.application.name } : {}),
  };
}

export const identificationRuntime: StageRuntime<IdentificationConfig, PasskeyState> = {
  component: 'ak-stage-identification',
  withUserInfo: false,
  async challenge(c) {
    // a known identifier (kept by restart_with_context, …) on a stage that asks for nothing else is submitted as if
    // typed; if it does not pass, it is dropped and the form shown (authentik's "simple stage" auto-submit)
    const known = c.ctx.pendingUserIdentifier;
    if (known && !c.config.password_stage && !c.config.captcha_stage && !c.config.webauthn_stage) {
      const outcome = await identificationRuntime.respond(c, { uid_field: known });
      if (outcome.type === 'ok') return outcome;
      c.ctx.pendingUserIdentifier = undefined;
    }
    return show(await challengeOf(c));
  },
  async respond(c, body) {
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(await challengeOf(c), parsed.errors);
    const uid = (parsed.data.uid_field as string | null | undefined) ?? '';
    const fail = async (message = FAILED) => invalid(await challengeOf(c), fieldError('non_field_errors', message));
    const { pw, captcha, webauthn } = await embedded(c);
    if (webauthn && parsed.data.passkey) {
      const error = await passkeyLogin(c, webauthn, parsed.data.passkey);
      return error ? fail(error) : ok();
    }
    if (uid === '') return fail('No identification data provided.');

    // the captcha is checked for everyone before the lookup, so its outcome says nothing about the account
    if (captcha) {
      const verdict = await verifyCaptcha(
        withPlanKeys(captcha, c.ctx),
        (parsed.data.captcha_token as string | null) ?? undefined,
        c.clientIp,
        c.svc.config.captchaTimeoutMs,
      );
      if (!verdict.ok) return fail();
      c.ctx.captcha = { response: verdict.response, stage: captcha.pk };
    }

    const user = await findUser(c.svc, c.config.user_fields, uid, c.config.case_insensitive_matching);
    if (!c.config.show_matched_user) c.ctx.pendingUserIdentifier = uid;
    // failures are recorded under the account's username, or what was typed when no account matched
    const identifier = user?.username ?? uid;
    const attempt = pw ? await reserveCheck(c, identifier, user?.id ?? null) : undefined;
    if (pw && !attempt) return fail(THROTTLED_MESSAGE);
    if (!user) {
      c.ctx.pendingUser = { id: null, username: uid, email: uid, name: '' };
      if (pw) {
        // the same argon2id cost as a real check
        await verifyPassword(await dummyHash(c.svc.config.argon2), String(parsed.data.password ?? ''), c.svc.config.argon2);
        // (authentik writes no event here — this stage meets anonymous traffic at high rates — only the reputation drops)
        return recordPasswordFailure(c, pw.failed_attempts_before_cancel, () => fail(), identifier, 'unknown user', { event: false });
      }
      // authentik's identification_failed signal: the reputation of what was typed, from this IP, drops
      await lowerReputation(c.svc, c.clientIp, uid);
      if (c.config.pretend_user_exists) return ok();
      return fail();
    }
    let proven = user;
    if (pw) {
      const password = (parsed.data.password as string | null | undefined) ?? '';
      const auth = password ? await authenticatePassword(c.svc, user.username, password, pw.backends) : undefined;
      if (!auth) {
        if (!password) await verifyPassword(await dummyHash(c.svc.config.argon2), '', c.svc.config.argon2);
        c.ctx.pendingUser = { id: null, username: uid, email: uid, name: '' };
        return recordPasswordFailure(c, pw.failed_attempts_before_cancel, () => fail(), identifier, 'invalid password or inactive user', {
          user,
        });
      }
      if (attempt) c.releaseLater(attempt);
      noteAuthentication(c.ctx, auth);
      proven = auth.user;
    }
    c.setPendingUser(proven);
    return ok();
  },
};
