/** The user login stage's challenge and response (authentik's UserLoginChallenge / UserLoginChallengeResponseRequest). */
import type { Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

/** shown only when "remember me" is offered (remember_me_offset > 0) */
export const UserLoginChallenge = userChallengeSchema('ak-stage-user-login', {}, 'Empty challenge');
export type UserLoginChallenge = Static<typeof UserLoginChallenge>;

export const UserLoginChallengeResponseRequest = responseSchema('ak-stage-user-login', { remember_me: S.bool() }, 'User login challenge');

export const userLoginChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-user-login',
    challenge: { name: 'UserLoginChallenge', schema: UserLoginChallenge },
    response: { name: 'UserLoginChallengeResponseRequest', schema: UserLoginChallengeResponseRequest },
  },
];
