/** Duo enrolment's challenge and response (authentik's AuthenticatorDuoChallenge / …ResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const AuthenticatorDuoChallenge = userChallengeSchema(
  'ak-stage-authenticator-duo',
  { activation_barcode: Type.String(), activation_code: Type.String(), stage_uuid: Type.String() },
  'Duo Challenge',
);
export type AuthenticatorDuoChallenge = Static<typeof AuthenticatorDuoChallenge>;

/** any response asks Duo whether the activation is complete */
export const AuthenticatorDuoChallengeResponseRequest = responseSchema('ak-stage-authenticator-duo', {}, 'Pseudo class for duo response');

export const authenticatorDuoChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-authenticator-duo',
    challenge: { name: 'AuthenticatorDuoChallenge', schema: AuthenticatorDuoChallenge },
    response: { name: 'AuthenticatorDuoChallengeResponseRequest', schema: AuthenticatorDuoChallengeResponseRequest },
  },
];
