/** TOTP enrolment's challenge and response (authentik's AuthenticatorTOTPChallenge / …ChallengeResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const AuthenticatorTOTPChallenge = userChallengeSchema(
  'ak-stage-authenticator-totp',
  { config_url: Type.String() },
  'TOTP Setup challenge',
);
export type AuthenticatorTOTPChallenge = Static<typeof AuthenticatorTOTPChallenge>;

export const AuthenticatorTOTPChallengeResponseRequest = responseSchema(
  'ak-stage-authenticator-totp',
  { code: S.str({ maxLength: 16 }) },
  'TOTP Challenge response, device is set by get_response_instance',
);

export const authenticatorTotpChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-authenticator-totp',
    challenge: { name: 'AuthenticatorTOTPChallenge', schema: AuthenticatorTOTPChallenge },
    response: { name: 'AuthenticatorTOTPChallengeResponseRequest', schema: AuthenticatorTOTPChallengeResponseRequest },
  },
];
