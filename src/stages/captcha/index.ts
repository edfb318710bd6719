import type { StageDef } from '../types.js';
import { captchaSchema } from './schema.js';
import { captchaRuntime } from './stage.js';
import { captchaChallenges } from './challenge.js';

export const captchaStage: StageDef = { ...captchaSchema, runtime: captchaRuntime, challenges: captchaChallenges };

// what other stages may use
export { captchaChallengeFields, verifyCaptcha, withPlanKeys, type CaptchaConfig } from './verify.js';
