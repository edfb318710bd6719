/**
 * Authenticator validation at run time: offer one challenge per device class the user has, check the answer with
 * the class it is for (src/mfa/registry.ts: a typed code with every allowed code class, after reserving the check
 * in the lockout records; a WebAuthn assertion or a Duo push with its class), remember success for
 * `last_auth_threshold`, and apply `not_configured_action` when the user has no usable device.
 */

import { S } from '../../rest/schema.js';
import { parseDuration } from '../../rest/duration.js';
import type { UsersTable } from '../../db/types.js';
import type { DeviceChallenge, MfaDeviceRef } from '../../flows/engine/context.js';
import { parseResponse } from '../../flows/engine/response.js';
import {
  deny,
  fieldError,
  invalid,
  ok,
  show,
  stageRefOf,
  type Outcome,
  type StageCall,
  type StageRuntime,
} from '../../flows/engine/runtime.js';
import { deviceChallenges, userDevices, type UserDevices } from './devices.js';
import { sleep, THROTTLED_MESSAGE } from '../../auth/lockout.js';
import { lowerReputation } from '../../auth/reputation.js';
import { newNonce } from '../../mfa/sidechannel.js';
import type { DeviceClass, DeviceRow, Validation } from '../../mfa/device-class.js';
import { deviceClass, deviceClasses, deviceClassesByApp } from '../../mfa/registry.js';
import { readMfaCookie, setMfaCookie } from './mfa-cookie.js';
import { userById } from '../../users/by-id.js';
import { passkeyChallenge, passkeyLogin } from './passkey.js';
import type { ValidateConfig, ValidateState } from './schema.js';
import type { StageChallenge } from '../../flows/engine/challenge-types.js';
import type { AuthenticatorValidationChallenge, SelectableStage } from './challenge.js';

type Call = StageCall<ValidateConfig, ValidateState>;

const INVALID_CODE = 'Invalid Token. Please ensure the time on your device is accurate and try again.';
const NOT_CONFIGURED = 'No (allowed) MFA authenticator configured.';

/** the response field that answers a class's challenge */
const answerField = (k: DeviceClass) => (k.challenger.answer === 'code' ? 'code' : k.challenger.answer.field);
/** the answer fields, in the order they are looked at (first class first) */
const answerFields = [...new Set(deviceClasses.map(answerField))];

const responseProps = {
  selected_challenge: S.obj({ nullable: true, 'x-optional': true }),
  selected_stage: S.text({ nullable: true, 'x-optional': true, maxLength: 64 }),
  ...Object.fromEntries(
    answerFields.map((field) => {
      const answer = deviceClasses.find((k) => answerField(k) === field)!.challenger.answer;
      return [field, answer === 'code' ? S.str({ nullable: true, 'x-optional': true, maxLength: 128 }) : answer.schema];
    }),
  ),
};

async function configurationStages(c: Call) {
  if (!c.config.configuration_stages.length) return [];
  const rows = await c.svc.db
    .selectFrom('stages')
    .select(['stage_uuid', 'name', 'kind'])
    .where('stage_uuid', 'in', c.config.configuration_stages)
    .execute();
  // in the order the administrator listed them
  return rows.sort((a, b) => c.config.configuration_stages.indexOf(a.stage_uuid) - c.config.configuration_stages.indexOf(b.stage_uuid));
}

function challengeOf(
  challenges: DeviceChallenge[],
  stages: SelectableStage[] = [],
): StageChallenge<typeof AuthenticatorValidationChallenge> {
  // the registry's class ids; on the wire they are authentik's DeviceClassesEnum (challenge.ts)
  type Served = StageChallenge<typeof AuthenticatorValidationChallenge>['device_challenges'];
  return { component: 'ak-stage-authenticator-validate', device_challenges: challenges as Served, configuration_stages: stages };
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
  return { challenges: deviceChallenges({ c, user }, devices), devices };
}

const thresholdMs = (c: Call) => parseDuration(c.config.last_auth_threshold) ?? 0;

function rememberedDevice(c: Call, user: UsersTable, devices: UserDevices): boolean {
  const t = thresholdMs(c);
  if (t <= 0) return false;
  const claim = readMfaCookie(c.req, c.stage.uuid, user, t);
  if (!claim || !c.config.device_classes.includes(claim.c)) return false;
  const list = devices[claim.c] ?? [];
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
      c.state.stages = stages.map((s) => s.stage_uuid);
      const selectable = [];
      for (const s of stages) {
        const def = c.svc.stageType(s.kind);
        const cfg = await c.svc.stageConfig<{ friendly_name?: string }>(s.kind, s.stage_uuid);
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

async function succeed(c: Call, user: UsersTable, k: DeviceClass, device: DeviceRow): Promise<Outcome> {
  const cls = k.id;
  const ref: MfaDeviceRef = { app: k.app, model_name: k.model.toLowerCase(), name: device.name, pk: device.id };
  c.ctx.authMethod ??= 'auth_mfa';
  c.ctx.authMethodArgs = { ...c.ctx.authMethodArgs, mfa_devices: [...(c.ctx.authMethodArgs?.mfa_devices ?? []), ref] };
  c.state.challenges = undefined;
  c.state.webauthnChallenge = undefined;
  const t = thresholdMs(c);
  if (t >= 1000) setMfaCookie(c.reply, c.req, user, { c: cls, d: device.id, s: c.stage.uuid }, t);
  return ok();
}

/** a typed code: every allowed code class in turn, each over the user's devices of it; the first that accepts it wins */
async function checkCode(c: Call, user: UsersTable, devices: UserDevices, code: string): Promise<Outcome | undefined> {
  const v: Validation = { c, user };
  for (const k of deviceClassesByApp) {
    if (k.challenger.answer !== 'code' || !c.config.device_classes.includes(k.id)) continue;
    const verdict = await k.challenger.verify(v, devices[k.id] ?? [], code);
    if (verdict?.device) return succeed(c, user, k, verdict.device);
  }
  return undefined;
}

/** an MFA failure counts in the shared failure records (unless its check was reserved there) and is logged (reason server-side only) */
async function mfaFailed(c: Call, user: UsersTable, reason: string, count = true, deviceClass?: string) {
  if (count) await c.svc.lockout.fail(user.username, c.clientIp);
  // authentik's login_failed signal: the username, the stage (as a model) and the device class checked
  await c.svc.events.emit('login_failed', {
    user: { pk: user.id, username: user.username, email: user.email },
    req: c.req,
    context: {
      username: user.username,
      reason: `mfa: ${reason}`,
      stage: stageRefOf(c),
      ...(deviceClass ? { device_class: deviceClass } : {}),
    },
  });
  // authentik's validation stage sends login_failed with the username: the reputation of (username, IP) drops
  await lowerReputation(c.svc, c.clientIp, user.username);
  c.svc.metrics.loginFailures.inc({ flow: c.flow.slug, stage: c.stage.name, reason: 'mfa' });
}

export const authenticatorValidateRuntime: StageRuntime<ValidateConfig, ValidateState> = {
  component: 'ak-stage-authenticator-validate',
  withUserInfo: true,
  async challenge(c) {
    const user = await c.pendingUser();
    if (!user && c.ctx.pendingUser) return notConfigured(c);
    const { challenges, devices } = await render(c, user);
    if (!user) {
      c.state.challenges = challenges;
      return challenges.length ? show(challengeOf(challenges)) : ok();
    }
    if (devices && rememberedDevice(c, user, devices)) return ok();
    c.state.challenges = challenges;
    // the login attempt's name for e-mail/SMS codes and their send limit, fixed before any parallel request can pick its own
    if (challenges.some((o) => deviceClass(o.device_class)?.challenger.attemptBound)) c.ctx.sideChannelNonce ??= newNonce();
    if (!challenges.length) return notConfigured(c);
    return show(challengeOf(challenges));
  },
  async respond(c, body) {
    const user = await c.pendingUser();
    const rerender = async (errors: Parameters<typeof invalid>[1]) => {
      const { challenges } = await render(c, user);
      c.state.challenges = challenges;
      return invalid(challengeOf(challenges), errors);
    };
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return rerender(parsed.errors);
    const data = parsed.data;

    if (typeof data.selected_stage === 'string' && data.selected_stage !== '') {
      const offered = c.state.stages ?? [];
      if (!offered.includes(data.selected_stage)) return rerender(fieldError('selected_stage', 'Selected stage is invalid'));
      const row = await c.svc.db
        .selectFrom('stages')
        .select(['stage_uuid', 'kind'])
        .where('stage_uuid', '=', data.selected_stage)
        .executeTakeFirst();
      if (!row) return rerender(fieldError('selected_stage', 'Selected stage is invalid'));
      c.insertNext(row.stage_uuid, row.kind);
      return ok();
    }
    if (!user) {
      // nobody to check outside an authentication flow: the stage is shown again, empty (authentik)
      if (!c.ctx.pendingUser && c.flow.designation !== 'authentication') return rerender(fieldError('non_field_errors', 'Empty response'));
      const passwordless = (c.state.challenges ?? []).some((o) => o.device_uid === '-1');
      if (c.ctx.pendingUser || !passwordless) return deny();
      if (!data.webauthn) return rerender(fieldError('non_field_errors', 'Empty response'));
      const error = await passkeyLogin(c, c.config, data.webauthn);
      if (error) return rerender(fieldError('webauthn', error));
      c.state.challenges = undefined;
      const device = c.ctx.authMethodArgs?.device;
      const t = thresholdMs(c);
      const owner = device && t >= 1000 ? await userById(c.svc.db, c.ctx.pendingUser!.id!) : undefined;
      if (device && owner) setMfaCookie(c.reply, c.req, owner, { c: 'webauthn', d: device.pk, s: c.stage.uuid }, t);
      return ok();
    }
    // only what this stage has offered in this plan counts: nothing before it has sent a challenge (authentik); so
    // only the offered classes' devices are read again (no statement probing which classes the user has)
    const offered = c.state.challenges ?? [];
    const devices = await userDevices(c.svc.db, user.id, new Set(offered.map((o) => o.device_class)));
    const sel = data.selected_challenge as Record<string, unknown> | null | undefined;
    if (sel && !offered.some((o) => o.device_class === sel.device_class && o.device_uid === String(sel.device_uid)))
      return rerender(fieldError('selected_challenge', 'invalid challenge selected'));
    const offers = (field: string) =>
      offered.some((o) => deviceClassesByApp.some((k) => k.id === o.device_class && answerField(k) === field));
    // choosing a device may start its check: an e-mail or SMS device is sent a fresh code, bound to this login attempt, within the send limits
    const chosen = sel ? deviceClass(String(sel.device_class)) : undefined;
    if (sel && chosen?.challenger.initiate) {
      const refusal = await chosen.challenger.initiate({ c, user }, devices[chosen.id] ?? [], Number(sel.device_uid));
      if (refusal) return rerender(fieldError('selected_challenge', refusal));
    }

    for (const field of answerFields) {
      const answer = data[field];
      if (field === 'code' ? typeof answer !== 'string' : answer === undefined || answer === null) continue;
      if (!offers(field)) return rerender(fieldError(field, 'No compatible device class allowed'));
      if (field === 'code') {
        // the check is reserved in the lockout records before any class looks at the code, and released on success
        const attempt = await c.svc.lockout.reserve(user.username, c.clientIp, user.id);
        if (attempt.delayMs) await sleep(attempt.delayMs);
        if (attempt.blocked) return rerender(fieldError('code', THROTTLED_MESSAGE));
        const out = await checkCode(c, user, devices, answer as string);
        if (out) {
          c.releaseLater(attempt);
          return out;
        }
        // (authentik: a code names the TOTP class, whichever code-based device it was meant for)
        await mfaFailed(c, user, 'invalid code', false, 'totp');
        return rerender(fieldError('code', INVALID_CODE));
      }
      const k = deviceClassesByApp.find((x) => answerField(x) === field)!;
      const verdict = (await k.challenger.verify({ c, user }, devices[k.id] ?? [], answer)) ?? { refused: 'Invalid device' };
      if (!('refused' in verdict)) return succeed(c, user, k, verdict.device);
      if (verdict.failure) await mfaFailed(c, user, verdict.failure, true, k.id);
      return rerender(fieldError(field, verdict.refused, verdict.code));
    }
    return rerender(fieldError('non_field_errors', 'Empty response'));
  },
};
