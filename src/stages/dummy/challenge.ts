/** The dummy stage's challenge and response (authentik's DummyChallenge / DummyChallengeResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { challengeSchema, responseSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const DummyChallenge = challengeSchema('ak-stage-dummy', { name: Type.String() }, 'Dummy challenge');
export type DummyChallenge = Static<typeof DummyChallenge>;

/** any response passes */
export const DummyChallengeResponseRequest = responseSchema('ak-stage-dummy', {}, 'Dummy challenge response');

export const dummyChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-dummy',
    challenge: { name: 'DummyChallenge', schema: DummyChallenge },
    response: { name: 'DummyChallengeResponseRequest', schema: DummyChallengeResponseRequest },
  },
];
