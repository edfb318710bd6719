/**
 * Authenticator validation at run time: offer one challenge per device class the user has, verify a TOTP or
 * static code or a WebAuthn assertion, remember success for `last_auth_threshold`, and apply
 * `not_configured_action` when the user has no usable device.
 */
import { Type } from '@sinclair/typebox';
import { S } from '../../api/schema.js';
import { parseDuration } from '../../api/duration.js';
import type { UsersTable } from '../../db/types.js';
import { isPlaceholder, type DeviceChallenge, type MfaDeviceRef } from '../../flows/context.js';
import { parseResponse } from '../../flows/response.js';
import { deny, fieldError, invalid, ok, show, type Challenge, type Outcome, type StageCall, type StageRuntime } from '../../flows/runtime.js';
import { verifyTotp } from '../../mfa/totp/totp.js';
import { verifyStatic } from '../../mfa/static/static.js';
import { consumeCode, newNonce } from '../../mfa/sidechannel.js';
import { reserveSend, SEND_LIMIT_MESSAGE } from '../../mfa/send-limit.js';
import { sendEmailDeviceCode } from '../../mfa/email/send-code.js';
import { sendSmsDeviceCode } from '../../mfa/sms/send-code.js';
import { duoPush } from '../../mfa/duo/push.js';
import { assertionCredentialId, invalidDeviceType, newWebAuthnChallenge, originOf, requestOptions, rpIdOf, verifyAssertion } from '../../mfa/webauthn/webauthn.js';
import { DEVICE_CLASSES } from '../../mfa/devices-api/classes.js';
import { allowedWebAuthn, deviceChallenges, userDevices, type UserDevices } from './devices.js';
import { sleep, THROTTLED_MESSAGE } from '../../core/lockout.js';
import { loadStageConfig } from '../resource.js';
import { readMfaCookie, setMfaCookie } from './mfa-cookie.js';
import { userById } from '../../core/user-by-id.js';
import { passkeyChallenge, passkeyLogin } from './passkey.js';
import type { ValidateConfig } from './schema.js';

type Call = StageCall<ValidateConfig>;

const INVALID_CODE = 'Invalid Token. Please ensure the time on your device is accurate and try again.';
const NOT_CONFIGURED = 'No (allowed) MFA authenticator configured.';

const responseProps = {
  selected_challenge: S.obj({ nullable: true, 'x-optional': true }),
  selected_stage: S.text({ nullable: true, 'x-optional': true, maxLength: 64 }),
  code: S.str({ nullable: true, 'x-optional': true, maxLength: 128 }),
  webauthn: S.obj({ nullable: true, 'x-optional': true }),
  duo: Type.Integer({ nullable: true, 'x-optional': true }),
};

/** the user the stage checks: the pending user, else whoever is logged in */
async function subject(c: Call): Promise<UsersTable | undefined> {
  const p = c.ctx.pendingUser;
  if (p && !isPlaceholder(p)) return userById(c.svc.db, p.id!);
  if (p) return undefined;
  return c.requestUser;
}


function webauthnOptions(c: Call, devices: UserDevices) {
  const challenge = newWebAuthnChallenge();
  c.ctx.webauthnChallenge = challenge;
  return requestOptions(challenge, rpIdOf(c.req, c.svc.config.externalUrl), devices.webauthn, c.config.webauthn_user_verification, c.config.webauthn_hints);
}

async function configurationStages(c: Call) {
  if (!c.config.configuration_stages.length) return [];
  const rows = await c.svc.db.selectFrom('stages').select(['stage_uuid', 'name', 'kind']).where('stage_uuid', 'in', c.config.configuration_stages).execute();
  // in the order the administrator listed them
  return rows.sort((a, b) => c.config.configuration_stages.indexOf(a.stage_uuid) - c.config.configuration_stages.indexOf(b.stage_uuid));
}

function challengeOf(challenges: DeviceChallenge[], stages: { pk: string; name: string; verbose_name: string; meta_model_name: string }[] = []): Challenge {
  return { component: 'ak-stage-authenticator-validate', device_challenges: challenges, configuration_stages: stages };
}

/**
 * Nobody identified and nobody logged in (a passwordless flow): in an authentication flow that allows WebAuthn, one
 * user-less passkey challenge (device_uid "-1"); otherwise none.
 */
function passwordlessChallenges(c: Call): DeviceChallenge[] {
  if (c.ctx.pendingUser || c.flow.designation !== 'authentication' || !c.config.device_classes.includes('webauthn')) return [];
  return [{ device_class: 'webauthn', device_uid: '-1', challenge: passkeyChallenge(c, c.config), last_used: null }];
}

async function render(c: Call, user: UsersTable | undefined): Promise<{ challenges: DeviceChallenge[]; devices?: UserDevices }> {
  if (!user) return { challenges: passwordlessChallenges(c) };
  const devices = await userDevices(c.svc.db, user.id);
  return { challenges: deviceChallenges(devices, c.config.device_classes, c.config.webauthn_allowed_device_types, () => webauthnOptions(c, devices)), devices };
}

const thresholdMs = (c: Call) => parseDuration(c.config.last_auth_threshold) ?? 0;

function rememberedDevice(c: Call, user: UsersTable, devices: UserDevices): boolean {
  const t = thresholdMs(c);
  if (t <= 0) return false;
  const claim = readMfaCookie(c.req, c.stage.uuid, user, t);
  if (!claim || !c.config.device_classes.includes(claim.c)) return false;
  const list = (devices as unknown as Record<string, { id: number }[]>)[claim.c] ?? [];
  return list.some((d) => d.id === claim.d);
}

async function notConfigured(c: Call): Promise<Outcome> {
  switch (c.config.not_configured_action) {
    case 'skip':
      return ok();
    case 'deny':
      return deny(NOT_CONFIGURED);
    case 'configure': {
      const stages = await configurationStages(c);
      if (stages.length === 0) return deny();
      if (stages.length === 1) {
        c.insertNext(stages[0]!.stage_uuid, stages[0]!.kind);
        return ok();
      }
      c.ctx.mfaStages = stages.map((s) => s.stage_uuid);
      const selectable = [];
      for (const s of stages) {
        const def = c.svc.stageType(s.kind);
        const cfg = def ? await loadStageConfig<{ friendly_name?: string }>(c.svc.db, def, s.stage_uuid) : undefined;
        selectable.push({
          pk: s.stage_uuid,
          name: cfg?.friendly_name || s.name,
          verbose_name: (def?.verboseName ?? s.kind).replace(/\s*Setup Stage$/, '').trim(),
          meta_model_name: def ? `${def.app}.${def.kind}` : s.kind,
        });
      }
      return show(challengeOf([], selectable));
    }
  }
}

async function succeed(c: Call, user: UsersTable, cls: 'static' | 'totp' | 'webauthn' | 'email' | 'sms' | 'duo', device: { id: number; name: string }): Promise<Outcome> {
  const d = DEVICE_CLASSES[cls];
  const ref: MfaDeviceRef = { app: d.app, model_name: d.model.toLowerCase(), name: device.name, pk: device.id };
  c.ctx.authMethod ??= 'auth_mfa';
  c.ctx.authMethodArgs = { ...c.ctx.authMethodArgs, mfa_devices: [...(c.ctx.authMethodArgs?.mfa_devices ?? []), ref] };
  c.ctx.mfaChallenges = undefined;
  c.ctx.webauthnChallenge = undefined;
  const t = thresholdMs(c);
  if (t >= 1000) setMfaCookie(c.reply, c.req, user, { c: cls, d: device.id, s: c.stage.uuid }, t);
  return ok();
}

async function checkCode(c: Call, user: UsersTable, devices: UserDevices, code: string): Promise<Outcome | undefined> {
  const classes = c.config.device_classes;
  const nonce = c.ctx.sideChannelNonce;
  if (nonce && classes.includes('email'))
    for (const d of devices.email)
      if (await consumeCode(c.svc.db, 'email_devices', d, c.svc.secretKey, nonce, code, c.config.email_otp_throttling_factor)) return succeed(c, user, 'email', d);
  if (nonce && classes.includes('sms'))
    for (const d of devices.sms)
      if (await consumeCode(c.svc.db, 'sms_devices', d, c.svc.secretKey, nonce, code, c.config.sms_otp_throttling_factor)) return succeed(c, user, 'sms', d);
  if (classes.includes('static'))
    for (const d of devices.static)
      if (await verifyStatic(c.svc.db, c.svc.secretKey, d, code, c.config.static_otp_throttling_factor)) return succeed(c, user, 'static', d);
  if (classes.includes('totp'))
    for (const d of devices.totp) if (await verifyTotp(c.svc.db, d, code, c.config.totp_otp_throttling_factor)) return succeed(c, user, 'totp', d);
  return undefined;
}

async function checkWebAuthn(c: Call, user: UsersTable, devices: UserDevices, assertion: unknown): Promise<Outcome | string> {
  const id = assertionCredentialId(assertion);
  const device = id ? devices.webauthn.find((d) => d.credential_id === id) : undefined;
  if (!device) return 'Invalid device';
  if (!allowedWebAuthn([device], c.config.webauthn_allowed_device_types).length)
    return invalidDeviceType(c.svc.config.brandTitle);
  const challenge = c.ctx.webauthnChallenge;
  if (!challenge) return 'Assertion failed';
  const verified = await verifyAssertion(c.svc.db, device, assertion, {
    challenge,
    origin: originOf(c.req, c.svc.config.externalUrl),
    rpId: rpIdOf(c.req, c.svc.config.externalUrl),
    requireUserVerification: c.config.webauthn_user_verification === 'required',
  });
  return verified ? succeed(c, user, 'webauthn', device) : 'Assertion failed';
}

/** sends a code to the chosen device unless a send limit is reached (then false, and nothing is sent) */
async function sendSideChannelCode(c: Call, user: UsersTable, devices: UserDevices, cls: 'email' | 'sms', id: number): Promise<boolean> {
  const nonce = (c.ctx.sideChannelNonce ??= newNonce());
  const reserve = (table: 'email_devices' | 'sms_devices', deviceId: number) =>
    reserveSend(c.svc.db, c.svc.config.mfaSend, { table, deviceId, nonce, ip: c.clientIp, identifier: user.username });
  if (cls === 'email') {
    const d = devices.email.find((x) => x.id === id);
    if (d) {
      if (!(await reserve('email_devices', d.id))) return false;
      await sendEmailDeviceCode(c.svc, d, user, nonce);
    }
  } else {
    const d = devices.sms.find((x) => x.id === id);
    if (d) {
      if (!(await reserve('sms_devices', d.id))) return false;
      await sendSmsDeviceCode(c.svc, d, nonce);
    }
  }
  return true;
}

/** an MFA failure counts in the shared failure records (unless its check was reserved there) and is logged (reason server-side only) */
async function mfaFailed(c: Call, user: UsersTable, reason: string, count = true) {
  if (count) await c.svc.lockout.fail(user.username, c.clientIp);
  await c.svc.events.emit('login_failed', {
    user: { pk: user.id, username: user.username, email: user.email },
    clientIp: c.clientIp,
    context: { reason: `mfa: ${reason}`, stage: c.stage.name },
  });
  c.svc.metrics.loginFailures.inc({ flow: c.flow.slug, stage: c.stage.name, reason: 'mfa' });
}

export const authenticatorValidateRuntime: StageRuntime<ValidateConfig> = {
  component: 'ak-stage-authenticator-validate',
  withUserInfo: true,
  async challenge(c) {
    // a passkey used as the first factor already proved possession of a device
    if (c.ctx.authMethod === 'auth_webauthn_pwl') return ok();
    const user = await subject(c);
    if (!user && c.ctx.pendingUser) return notConfigured(c);
    const { challenges, devices } = await render(c, user);
    if (!user) {
      c.ctx.mfaChallenges = challenges;
      return challenges.length ? show(challengeOf(challenges)) : ok();
    }
    if (devices && rememberedDevice(c, user, devices)) return ok();
    c.ctx.mfaChallenges = challenges;
    // the login attempt's name for e-mail/SMS codes and their send limit, fixed before any parallel request can pick its own
    if (challenges.some((o) => o.device_class === 'email' || o.device_class === 'sms')) c.ctx.sideChannelNonce ??= newNonce();
    if (!challenges.length) return notConfigured(c);
    return show(challengeOf(challenges));
  },
  async respond(c, body) {
    const user = await subject(c);
    const rerender = async (errors: Parameters<typeof invalid>[1]) => {
      const { challenges } = await render(c, user);
      c.ctx.mfaChallenges = challenges;
      return invalid(challengeOf(challenges), errors);
    };
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return rerender(parsed.errors);
    const data = parsed.data;

    if (typeof data.selected_stage === 'string' && data.selected_stage !== '') {
      const offered = c.ctx.mfaStages ?? [];
      if (!offered.includes(data.selected_stage)) return rerender(fieldError('selected_stage', 'Selected stage is invalid'));
      const row = await c.svc.db.selectFrom('stages').select(['stage_uuid', 'kind']).where('stage_uuid', '=', data.selected_stage).executeTakeFirst();
      if (!row) return rerender(fieldError('selected_stage', 'Selected stage is invalid'));
      c.insertNext(row.stage_uuid, row.kind);
      return ok();
    }
    if (!user) {
      // nobody to check outside an authentication flow: the stage is shown again, empty (authentik)
      if (!c.ctx.pendingUser && c.flow.designation !== 'authentication') return rerender(fieldError('non_field_errors', 'Empty response'));
      const passwordless = (c.ctx.mfaChallenges ?? []).some((o) => o.device_uid === '-1');
      if (c.ctx.pendingUser || !passwordless) return deny();
      if (!data.webauthn) return rerender(fieldError('non_field_errors', 'Empty response'));
      const error = await passkeyLogin(c, c.config, data.webauthn);
      if (error) return rerender(fieldError('webauthn', error));
      c.ctx.mfaChallenges = undefined;
      const device = c.ctx.authMethodArgs?.device;
      const t = thresholdMs(c);
      const owner = device && t >= 1000 ? await userById(c.svc.db, c.ctx.pendingUser!.id!) : undefined;
      if (device && owner) setMfaCookie(c.reply, c.req, owner, { c: 'webauthn', d: device.pk, s: c.stage.uuid }, t);
      return ok();
    }
    const devices = await userDevices(c.svc.db, user.id);
    // only what this stage has offered in this plan counts: nothing before it has sent a challenge (authentik)
    const offered = c.ctx.mfaChallenges ?? [];
    const sel = data.selected_challenge as Record<string, unknown> | null | undefined;
    if (sel && !offered.some((o) => o.device_class === sel.device_class && o.device_uid === String(sel.device_uid)))
      return rerender(fieldError('selected_challenge', 'invalid challenge selected'));
    const offers = (cls: string[]) => offered.some((o) => cls.includes(o.device_class));
    // choosing an e-mail or SMS device sends it a fresh code, bound to this login attempt, within the send limits
    if (sel && (sel.device_class === 'email' || sel.device_class === 'sms'))
      if (!(await sendSideChannelCode(c, user, devices, sel.device_class, Number(sel.device_uid)))) return rerender(fieldError('selected_challenge', SEND_LIMIT_MESSAGE));

    if (typeof data.code === 'string') {
      if (!offers(['totp', 'static', 'email', 'sms'])) return rerender(fieldError('code', 'No compatible device class allowed'));
      const attempt = await c.svc.lockout.reserve(user.username, c.clientIp, user.id);
      if (attempt.delayMs) await sleep(attempt.delayMs);
      if (attempt.blocked) return rerender(fieldError('code', THROTTLED_MESSAGE));
      const out = await checkCode(c, user, devices, data.code);
      if (out) {
        await attempt.release();
        return out;
      }
      await mfaFailed(c, user, 'invalid code', false);
      return rerender(fieldError('code', INVALID_CODE));
    }
    if (data.webauthn) {
      if (!offers(['webauthn'])) return rerender(fieldError('webauthn', 'No compatible device class allowed'));
      const out = await checkWebAuthn(c, user, devices, data.webauthn);
      if (typeof out !== 'string') return out;
      await mfaFailed(c, user, out);
      return rerender(fieldError('webauthn', out));
    }
    if (data.duo !== undefined && data.duo !== null) {
      if (!offers(['duo'])) return rerender(fieldError('duo', 'No compatible device class allowed'));
      const device = devices.duo.find((d) => d.id === data.duo);
      if (!device) return rerender(fieldError('duo', 'Invalid device'));
      // Duo unreachable or answering an error is a refusal too (never a flow error), but not a failed attempt
      const verdict = await duoPush(c.svc, device, user, c.req).catch(() => 'error' as const);
      if (verdict === true) {
        await c.svc.db.updateTable('duo_devices').set({ last_used: new Date().toISOString() }).where('id', '=', device.id).execute();
        return succeed(c, user, 'duo', device);
      }
      if (verdict === false) await mfaFailed(c, user, 'duo denied');
      return rerender(fieldError('duo', 'Duo denied access', 'denied'));
    }
    return rerender(fieldError('non_field_errors', 'Empty response'));
  },
};
