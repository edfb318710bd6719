/**
 * WebAuthn enrolment with @simplewebauthn/server: registration options per the stage's settings, the attestation
 * verified against the stored challenge, the authenticator model checked against device_type_restrictions, and
 * the credential saved only after all of that passed, unless its credential ID is registered already (to anyone). The
 * pseudo type "authentik: Unknown devices" among the restrictions admits models without a device type.
 * `max_attempts` failures end the flow.
 */
import { uidOf } from '../../users/render.js';
import type { UsersTable } from '../../db/types.js';
import { parseResponse } from '../../flows/engine/response.js';
import { deny, fieldError, invalid, ok, show, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import { AuthenticatorWebAuthnChallengeResponseRequest, type AuthenticatorWebAuthnChallenge } from './challenge.js';
import { invalidDeviceType, originOf, rpIdOf } from '../../mfa/webauthn/webauthn.js';
import { deviceEnrolled } from '../enrolment.js';
import { UNKNOWN_DEVICE_TYPE } from '../../db/migrations/0049_webauthn_unknown_device_type.js';
import type { StageConfig } from '../types.js';
import type { authenticatorWebauthnSchema } from './schema.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type WebAuthnSetupConfig = StageConfig<typeof authenticatorWebauthnSchema>;

/** the registration in progress: its challenge, and failed attempts */
interface WebAuthnSetupState {
  challenge?: string;
  failures?: number;
}

type Call = StageCall<WebAuthnSetupConfig, WebAuthnSetupState>;
const responseProps = responseFields(AuthenticatorWebAuthnChallengeResponseRequest);

/**
 * the authenticator attachment asked for: the stage's, else (as upstream, for clients that do not read hints) the one
 * its hints agree on — security keys and hybrid mean cross-platform, the client device platform —, else none
 */
function attachmentOf(config: WebAuthnSetupConfig): 'platform' | 'cross-platform' | undefined {
  if (config.authenticator_attachment) return config.authenticator_attachment;
  if (!config.hints.length) return undefined;
  if (config.hints.every((h) => h === 'client-device')) return 'platform';
  if (config.hints.every((h) => h === 'security-key' || h === 'hybrid')) return 'cross-platform';
  return undefined;
}

/** py_webauthn's default COSE algorithms, in its order: ES256, EdDSA, ES512, PS256, PS384, PS512, RS256, RS384, RS512 */
const SUPPORTED_ALGORITHMS = [-7, -8, -36, -37, -38, -39, -257, -258, -259];

async function registration(c: Call, user: UsersTable): Promise<StageChallenge<typeof AuthenticatorWebAuthnChallenge>> {
  const existing = await c.svc.db.selectFrom('webauthn_devices').select(['credential_id']).where('user_id', '=', user.id).execute();
  const { generateRegistrationOptions } = await import('@simplewebauthn/server');
  const options = await generateRegistrationOptions({
    rpName: await brandTitle(c),
    rpID: rpIdOf(c.req, c.svc.config.externalUrl),
    userName: user.username,
    userDisplayName: user.name || user.username,
    // authentik's: the user's uid as the user handle, the authenticator's attestation asked for (its model names the
    // device), and py_webauthn's default algorithms
    userID: new TextEncoder().encode(uidOf(user.id, c.svc.installId)),
    attestationType: 'direct',
    excludeCredentials: existing.map((d) => ({ id: d.credential_id })),
    authenticatorSelection: {
      userVerification: c.config.user_verification,
      residentKey: c.config.resident_key_requirement,
      ...(attachmentOf(c.config) ? { authenticatorAttachment: attachmentOf(c.config) } : {}),
    },
    supportedAlgorithmIDs: SUPPORTED_ALGORITHMS,
  });
  c.state.challenge = options.challenge;
  // hints as the stage sets them, in their order; no key at all without (upstream's options)
  const { hints: _none, ...rest } = options;
  const registration = c.config.hints.length ? { ...rest, hints: c.config.hints } : rest;
  return { component: 'ak-stage-authenticator-webauthn', registration };
}

const brandTitle = async (c: Call) => (await c.svc.brand(c.req.host)).branding_title;

/**
 * whether an authenticator model may be registered: any without restrictions; else one listed, or, when the pseudo
 * type "authentik: Unknown devices" is listed, one without a device type (`known`: its AAGUID has one)
 */
function admitted(restrictions: readonly string[], aaguid: string, known: boolean): boolean {
  if (!restrictions.length || restrictions.includes(aaguid)) return true;
  return !known && restrictions.includes(UNKNOWN_DEVICE_TYPE.aaguid);
}

/** a failed attempt: the registration asked again with `message`, or the flow denied after `max_attempts` */
async function failed(c: Call, user: UsersTable, message: string): Promise<Outcome> {
  const failures = (c.state.failures ?? 0) + 1;
  c.state.failures = failures;
  if (c.config.max_attempts > 0 && failures >= c.config.max_attempts)
    return deny(`Exceeded maximum attempts. Contact your ${await brandTitle(c)} administrator for help.`);
  return invalid(await registration(c, user), fieldError('response', message));
}

/** authentik's message for a registration the library refused (the reason goes to the log, not to the browser) */
const REGISTRATION_FAILED = 'Registration failed. Please contact your administrator.';

export const authenticatorWebauthnRuntime: StageRuntime<WebAuthnSetupConfig, WebAuthnSetupState> = {
  component: 'ak-stage-authenticator-webauthn',
  withUserInfo: true,
  async challenge(c) {
    const user = await c.pendingUser();
    return user ? show(await registration(c, user)) : deny();
  },
  async respond(c, body) {
    const user = await c.pendingUser();
    if (!user) return deny();
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    const expected = c.state.challenge;
    if (!parsed.ok || !expected)
      return invalid(await registration(c, user), parsed.ok ? fieldError('response', 'No registration was requested.') : parsed.errors);
    let info: Awaited<ReturnType<typeof import('@simplewebauthn/server').verifyRegistrationResponse>>['registrationInfo'];
    try {
      const { verifyRegistrationResponse } = await import('@simplewebauthn/server');
      const verified = await verifyRegistrationResponse({
        response: parsed.data.response as never,
        expectedChallenge: expected,
        expectedOrigin: originOf(c.req, c.svc.config.externalUrl),
        expectedRPID: rpIdOf(c.req, c.svc.config.externalUrl),
        requireUserVerification: c.config.user_verification === 'required',
      });
      if (!verified.verified || !verified.registrationInfo) return failed(c, user, REGISTRATION_FAILED);
      info = verified.registrationInfo;
    } catch (e) {
      c.req.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'webauthn registration failed');
      return failed(c, user, REGISTRATION_FAILED);
    }
    const aaguid = info.aaguid || UNKNOWN_DEVICE_TYPE.aaguid;
    const type = await c.svc.db.selectFrom('webauthn_device_types').select('description').where('aaguid', '=', aaguid).executeTakeFirst();
    if (!admitted(c.config.device_type_restrictions, aaguid, type !== undefined))
      return failed(c, user, invalidDeviceType(await brandTitle(c)));
    const now = new Date().toISOString();
    const d = await c.svc.db
      .insertInto('webauthn_devices')
      .values({
        user_id: user.id,
        name: c.config.friendly_name || type?.description || 'WebAuthn Device',
        confirmed: 1,
        created: now,
        last_updated: now,
        last_used: null,
        credential_id: info.credential.id,
        public_key: Buffer.from(info.credential.publicKey).toString('base64url'),
        sign_count: info.credential.counter,
        rp_id: rpIdOf(c.req, c.svc.config.externalUrl),
        aaguid,
        transports: JSON.stringify(info.credential.transports ?? []),
      } as never)
      .onConflict((oc) => oc.column('credential_id').doNothing())
      .returning(['id', 'name', 'aaguid'])
      .executeTakeFirst();
    // a credential another user (or this one, at once in another request) has registered: WebAuthn §7.1 step 22
    // (the relying party fails the ceremony), with authentik's message
    if (!d) return failed(c, user, 'Credential ID already exists.');
    c.state.challenge = undefined;
    c.state.failures = undefined;
    await deviceEnrolled(c, user, 'webauthn', d);
    return ok();
  },
};
