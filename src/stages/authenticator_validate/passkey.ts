/**
 * A passkey as the first factor, for the identification stage's `webauthn_stage` and for a validation stage that runs
 * with nobody identified yet (a passwordless flow): a user-less challenge, and an assertion by any user's registered
 * credential, verified with the validation stage's WebAuthn settings. Success makes the credential's owner the
 * pending user with `auth_method` `auth_webauthn_pwl`.
 */
import type { UsersTable } from '../../db/types.js';
import type { StageCall } from '../../flows/engine/runtime.js';
import type { WebAuthnDevicesTable } from '../../mfa/webauthn/table.js';
import {
  allowedWebAuthn,
  assertionCredentialId,
  invalidDeviceType,
  newWebAuthnChallenge,
  originOf,
  requestOptions,
  rpIdOf,
  verifyAssertion,
} from '../../mfa/webauthn/webauthn.js';
import type { ValidateConfig } from './schema.js';

/** what a stage offering a passkey keeps: the user-less challenge of its last render */
export interface PasskeyState {
  webauthnChallenge?: string;
}

type PasskeySettings = Pick<ValidateConfig, 'webauthn_user_verification' | 'webauthn_hints' | 'webauthn_allowed_device_types'>;

/** a fresh user-less WebAuthn challenge (empty allowCredentials), kept in the flow context until used */
export function passkeyChallenge(c: StageCall<unknown, PasskeyState>, settings: PasskeySettings) {
  const challenge = newWebAuthnChallenge();
  c.state.webauthnChallenge = challenge;
  return requestOptions(
    challenge,
    rpIdOf(c.req, c.svc.config.externalUrl),
    [],
    settings.webauthn_user_verification,
    settings.webauthn_hints,
  );
}

/** verifies a passkey assertion against the stored challenge; on success sets the pending user, else returns the message */
export async function passkeyLogin(
  c: StageCall<unknown, PasskeyState>,
  settings: PasskeySettings,
  assertion: unknown,
): Promise<string | undefined> {
  const id = assertionCredentialId(assertion);
  const device = id
    ? ((await c.svc.db
        .selectFrom('webauthn_devices')
        .selectAll()
        .where('credential_id', '=', id)
        .where('confirmed', '=', 1)
        .executeTakeFirst()) as WebAuthnDevicesTable | undefined)
    : undefined;
  if (!device) return 'Invalid device';
  if (!allowedWebAuthn([device], settings.webauthn_allowed_device_types).length)
    return invalidDeviceType((await c.svc.brand(c.req.host)).branding_title);
  const challenge = c.state.webauthnChallenge;
  c.state.webauthnChallenge = undefined;
  if (!challenge) return 'Assertion failed';
  const verified = await verifyAssertion(c.svc.db, device, assertion, {
    challenge,
    origin: originOf(c.req, c.svc.config.externalUrl),
    rpId: rpIdOf(c.req, c.svc.config.externalUrl),
    requireUserVerification: settings.webauthn_user_verification === 'required',
  });
  if (!verified) return 'Assertion failed';
  const user = (await c.svc.db.selectFrom('users').selectAll().where('id', '=', device.user_id).executeTakeFirst()) as
    | UsersTable
    | undefined;
  if (!user || !user.is_active) return 'Assertion failed';
  c.setPendingUser(user);
  c.ctx.authMethod = 'auth_webauthn_pwl';
  c.ctx.userBackend = 'authentik.core.auth.InbuiltBackend';
  c.ctx.authMethodArgs = {
    ...c.ctx.authMethodArgs,
    device: { app: 'authentik_stages_authenticator_webauthn', model_name: 'webauthndevice', name: device.name, pk: device.id },
  };
  return undefined;
}
