/**
 * The validation stage's challenge and response (authentik's AuthenticatorValidationChallenge /
 * AuthenticatorValidationChallengeResponseRequest, with DeviceChallenge and SelectableStage). One component for
 * every device class and for the setup choice (`configuration_stages`).
 */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { ref, responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

const deviceClasses = ['static', 'totp', 'webauthn', 'duo', 'sms', 'email'] as const;

/** one device class the person may answer with (one per class: authentik's "challenge per class") */
export const DeviceChallenge = Type.Object(
  {
    device_class: S.enumOf(deviceClasses),
    device_uid: Type.String(),
    /** webauthn: PublicKeyCredentialRequestOptionsJSON; other classes: {} */
    challenge: Type.Unsafe<Record<string, any>>({ type: 'object', additionalProperties: {} }),
    last_used: Type.Unsafe<string | null>({ type: 'string', format: 'date-time', nullable: true }),
  },
  { description: 'Single device challenge' },
);
export type DeviceChallenge = Static<typeof DeviceChallenge>;

/** a setup stage offered when the user has no device (not_configured_action: configure) */
export const SelectableStage = Type.Object(
  { pk: Type.String({ format: 'uuid' }), name: Type.String(), verbose_name: Type.String(), meta_model_name: Type.String() },
  { description: 'Serializer for stages which can be selected by users' },
);
export type SelectableStage = Static<typeof SelectableStage>;

export const AuthenticatorValidationChallenge = userChallengeSchema(
  'ak-stage-authenticator-validate',
  {
    device_challenges: Type.Array(ref('DeviceChallenge', DeviceChallenge)),
    configuration_stages: Type.Array(ref('SelectableStage', SelectableStage)),
  },
  'Authenticator challenge',
);
export type AuthenticatorValidationChallenge = Static<typeof AuthenticatorValidationChallenge>;

/**
 * The same fields and validation keywords as stage.ts's `responseProps` today. `selected_challenge` is served as a
 * free-form object (authentik: DeviceChallengeRequest); the stage checks it against the offered challenges itself.
 */
export const AuthenticatorValidationChallengeResponseRequest = responseSchema(
  'ak-stage-authenticator-validate',
  {
    selected_challenge: S.obj({ nullable: true, 'x-optional': true }),
    selected_stage: S.text({ nullable: true, 'x-optional': true, maxLength: 64 }),
    code: S.str({ nullable: true, 'x-optional': true, maxLength: 128 }),
    webauthn: S.obj({ nullable: true, 'x-optional': true }),
    duo: Type.Integer({ nullable: true, 'x-optional': true }),
  },
  'Challenge used for Code-based and WebAuthn authenticators',
);

export const authenticatorValidateChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-authenticator-validate',
    challenge: { name: 'AuthenticatorValidationChallenge', schema: AuthenticatorValidationChallenge },
    response: { name: 'AuthenticatorValidationChallengeResponseRequest', schema: AuthenticatorValidationChallengeResponseRequest },
    parts: [
      { name: 'DeviceChallenge', schema: DeviceChallenge },
      { name: 'SelectableStage', schema: SelectableStage },
    ],
  },
];
