/** The device-code entry's challenge and response (authentik's OAuthDeviceCodeChallenge / …ChallengeResponseRequest). */
import type { Static } from '@sinclair/typebox';
import { challengeSchema, responseSchema, type ChallengeDef } from '../../../../flows/engine/challenge-types.js';
import { S } from '../../../../rest/schema.js';

export const OAuthDeviceCodeChallenge = challengeSchema('ak-provider-oauth2-device-code', {}, 'OAuth Device code challenge');
export type OAuthDeviceCodeChallenge = Static<typeof OAuthDeviceCodeChallenge>;

export const OAuthDeviceCodeChallengeResponseRequest = responseSchema(
  'ak-provider-oauth2-device-code',
  { code: S.str({ minLength: 1 }) },
  'Response that includes the user-entered device code',
);

export const deviceCodeChallenges: ChallengeDef[] = [
  {
    component: 'ak-provider-oauth2-device-code',
    challenge: { name: 'OAuthDeviceCodeChallenge', schema: OAuthDeviceCodeChallenge },
    response: { name: 'OAuthDeviceCodeChallengeResponseRequest', schema: OAuthDeviceCodeChallengeResponseRequest },
  },
];
