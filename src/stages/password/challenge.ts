/** The password stage's challenge and response (authentik's PasswordChallenge / PasswordChallengeResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const PasswordChallenge = userChallengeSchema(
  'ak-stage-password',
  { recovery_url: Type.Optional(Type.String()), allow_show_password: Type.Boolean({ default: false }) },
  'Password challenge UI fields',
);
export type PasswordChallenge = Static<typeof PasswordChallenge>;

export const PasswordChallengeResponseRequest = responseSchema(
  'ak-stage-password',
  { password: S.str({ 'x-no-trim': true, maxLength: 4096 }) },
  'Password challenge response',
);

export const passwordChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-password',
    challenge: { name: 'PasswordChallenge', schema: PasswordChallenge },
    response: { name: 'PasswordChallengeResponseRequest', schema: PasswordChallengeResponseRequest },
  },
];
