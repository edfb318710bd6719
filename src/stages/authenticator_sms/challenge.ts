/** SMS enrolment's challenge and response (authentik's AuthenticatorSMSChallenge / …ResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

export const AuthenticatorSMSChallenge = userChallengeSchema(
  'ak-stage-authenticator-sms',
  { phone_number_required: Type.Optional(Type.Boolean({ default: true })) },
  'SMS Setup challenge',
);
export type AuthenticatorSMSChallenge = Static<typeof AuthenticatorSMSChallenge>;

export const AuthenticatorSMSChallengeResponseRequest = responseSchema(
  'ak-stage-authenticator-sms',
  {
    code: S.text({ nullable: true, 'x-optional': true, maxLength: 16 }),
    phone_number: S.text({ nullable: true, 'x-optional': true, maxLength: 32, pattern: '^\\+?[0-9 ()-]{5,31}$' }),
  },
  'SMS Challenge response, device is set by get_response_instance',
);

export const authenticatorSmsChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-authenticator-sms',
    challenge: { name: 'AuthenticatorSMSChallenge', schema: AuthenticatorSMSChallenge },
    response: { name: 'AuthenticatorSMSChallengeResponseRequest', schema: AuthenticatorSMSChallengeResponseRequest },
  },
];
