/** The captcha stage's challenge and response (authentik's CaptchaChallenge / CaptchaChallengeResponseRequest). */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { responseSchema, userChallengeSchema, type ChallengeDef } from '../../flows/engine/challenge-types.js';

/** the widget's parameters (also embedded in the identification challenge) */
export const captchaFields = { site_key: Type.String(), js_url: Type.String(), interactive: Type.Boolean() };

export const CaptchaChallenge = userChallengeSchema('ak-stage-captcha', captchaFields, 'Site public key');
export type CaptchaChallenge = Static<typeof CaptchaChallenge>;

export const CaptchaChallengeResponseRequest = responseSchema(
  'ak-stage-captcha',
  { token: S.str({ maxLength: 8192 }) },
  'Validate captcha token',
);

export const captchaChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-captcha',
    challenge: { name: 'CaptchaChallenge', schema: CaptchaChallenge },
    response: { name: 'CaptchaChallengeResponseRequest', schema: CaptchaChallengeResponseRequest },
  },
];
