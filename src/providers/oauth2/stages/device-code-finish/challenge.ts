/** The device-code approval's challenge (authentik's OAuthDeviceCodeFinishChallenge): the device may now poll. */
import type { Static } from '@sinclair/typebox';
import { challengeSchema, responseSchema, type ChallengeDef } from '../../../../flows/engine/challenge-types.js';

export const OAuthDeviceCodeFinishChallenge = challengeSchema(
  'ak-provider-oauth2-device-code-finish',
  {},
  'Final challenge after user enters their code',
);
export type OAuthDeviceCodeFinishChallenge = Static<typeof OAuthDeviceCodeFinishChallenge>;

export const OAuthDeviceCodeFinishChallengeResponseRequest = responseSchema(
  'ak-provider-oauth2-device-code-finish',
  {},
  'Response that device has been authenticated and tab can be closed',
);

export const deviceCodeFinishChallenges: ChallengeDef[] = [
  {
    component: 'ak-provider-oauth2-device-code-finish',
    challenge: { name: 'OAuthDeviceCodeFinishChallenge', schema: OAuthDeviceCodeFinishChallenge },
    response: { name: 'OAuthDeviceCodeFinishChallengeResponseRequest', schema: OAuthDeviceCodeFinishChallengeResponseRequest },
  },
];
