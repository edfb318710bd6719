/** The consent stage's challenge and response (authentik's ConsentChallenge / ConsentChallengeResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { ref, responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const ConsentPermission = Type.Object({ name: Type.String(), id: Type.String() }, { description: 'Permission used for consent' });
export type ConsentPermission = Static<typeof ConsentPermission>;

export const ConsentChallenge = userChallengeSchema(
  'ak-stage-consent',
  {
    header_text: Type.Optional(Type.String()),
    permissions: Type.Array(ref('ConsentPermission', ConsentPermission)),
    additional_permissions: Type.Array(ref('ConsentPermission', ConsentPermission)),
    token: Type.String(),
  },
  'Challenge info for consent screens',
);
export type ConsentChallenge = Static<typeof ConsentChallenge>;

export const ConsentChallengeResponseRequest = responseSchema(
  'ak-stage-consent',
  { token: S.str() },
  'Consent challenge response, any valid response request is valid',
);

export const consentChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-consent',
    challenge: { name: 'ConsentChallenge', schema: ConsentChallenge },
    response: { name: 'ConsentChallengeResponseRequest', schema: ConsentChallengeResponseRequest },
    parts: [{ name: 'ConsentPermission', schema: ConsentPermission }],
  },
];
