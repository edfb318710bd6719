import type { StageDef } from '../types.js';
import { captchaSchema } from './schema.js';
import { captchaRuntime } from './stage.js';

export const captchaStage: StageDef = { ...captchaSchema, runtime: captchaRuntime };

// what other stages may use
export { captchaChallengeFields, verifyCaptcha, type CaptchaConfig } from './verify.js';
