/** E-mail enrolment's challenge and response (authentik's AuthenticatorEmailChallenge / …ResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const AuthenticatorEmailChallenge = userChallengeSchema(
  'ak-stage-authenticator-email',
  {
    /** the masked address the code went to */
    email: Type.Optional(Type.Unsafe<string | null>({ type: 'string', nullable: true })),
    email_required: Type.Optional(Type.Boolean({ default: true })),
  },
  'Authenticator Email Setup challenge',
);
export type AuthenticatorEmailChallenge = Static<typeof AuthenticatorEmailChallenge>;

export const AuthenticatorEmailChallengeResponseRequest = responseSchema(
  'ak-stage-authenticator-email',
  {
    code: S.text({ nullable: true, 'x-optional': true, maxLength: 16 }),
    email: S.text({ nullable: true, 'x-optional': true, format: 'email', maxLength: 254 }),
  },
  'Authenticator Email Challenge response, device is set by get_response_instance',
);

export const authenticatorEmailChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-authenticator-email',
    challenge: { name: 'AuthenticatorEmailChallenge', schema: AuthenticatorEmailChallenge },
    response: { name: 'AuthenticatorEmailChallengeResponseRequest', schema: AuthenticatorEmailChallengeResponseRequest },
  },
];
