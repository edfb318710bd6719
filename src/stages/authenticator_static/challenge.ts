/** Recovery-code enrolment's challenge and response (authentik's AuthenticatorStaticChallenge / …ResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const AuthenticatorStaticChallenge = userChallengeSchema(
  'ak-stage-authenticator-static',
  { codes: Type.Array(Type.String()) },
  'Static authenticator challenge',
);
export type AuthenticatorStaticChallenge = Static<typeof AuthenticatorStaticChallenge>;

/** any response confirms the codes were saved */
export const AuthenticatorStaticChallengeResponseRequest = responseSchema(
  'ak-stage-authenticator-static',
  {},
  'Pseudo class for static response',
);

export const authenticatorStaticChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-authenticator-static',
    challenge: { name: 'AuthenticatorStaticChallenge', schema: AuthenticatorStaticChallenge },
    response: { name: 'AuthenticatorStaticChallengeResponseRequest', schema: AuthenticatorStaticChallengeResponseRequest },
  },
];
