import type { StageDef } from '../types.js';
import { authenticatorValidateSchema } from './schema.js';
import { authenticatorValidateRuntime } from './stage.js';
import { authenticatorValidateChallenges } from './challenge.js';

export const authenticatorValidateStage: StageDef = {
  ...authenticatorValidateSchema,
  runtime: authenticatorValidateRuntime,
  challenges: authenticatorValidateChallenges,
};

// what other stages may use
export { USER_VERIFICATION, WEBAUTHN_HINTS, type ValidateConfig } from './schema.js';
export { passkeyChallenge, passkeyLogin, type PasskeyState } from './passkey.js';
