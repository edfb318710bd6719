/** The e-mail stage's challenge and response (authentik's EmailChallenge / EmailChallengeResponseRequest). */
import type { Static } from '@sinclair/typebox';
import { challengeSchema, responseSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const EmailChallenge = challengeSchema('ak-stage-email', {}, 'Email challenge');
export type EmailChallenge = Static<typeof EmailChallenge>;

export const EmailChallengeResponseRequest = responseSchema(
  'ak-stage-email',
  {},
  'Email challenge resposen. No fields. This challenge is\nalways declared invalid to give the user a chance to retry',
);

export const emailChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-email',
    challenge: { name: 'EmailChallenge', schema: EmailChallenge },
    response: { name: 'EmailChallengeResponseRequest', schema: EmailChallengeResponseRequest },
  },
];

/** a link that comes back asks for confirmation with the consent stage's challenge (authentik's in-memory consent step) */
export type { ConsentChallenge } from '../consent/challenge.js';
