/** WebAuthn enrolment's challenge and response (authentik's AuthenticatorWebAuthnChallenge / …ResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const AuthenticatorWebAuthnChallenge = userChallengeSchema(
  'ak-stage-authenticator-webauthn',
  {
    /** PublicKeyCredentialCreationOptionsJSON (+ `hints`) */
    registration: Type.Unsafe<Record<string, any>>({ type: 'object', additionalProperties: {} }),
  },
  'WebAuthn Challenge',
);
export type AuthenticatorWebAuthnChallenge = Static<typeof AuthenticatorWebAuthnChallenge>;

export const AuthenticatorWebAuthnChallengeResponseRequest = responseSchema(
  'ak-stage-authenticator-webauthn',
  { response: Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: {}, 'x-json': true }) },
  'WebAuthn Challenge response',
);

export const authenticatorWebauthnChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-authenticator-webauthn',
    challenge: { name: 'AuthenticatorWebAuthnChallenge', schema: AuthenticatorWebAuthnChallenge },
    response: { name: 'AuthenticatorWebAuthnChallengeResponseRequest', schema: AuthenticatorWebAuthnChallengeResponseRequest },
  },
];
