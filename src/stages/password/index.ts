import type { StageDef } from '../types.js';
import { passwordSchema } from './schema.js';
import { passwordRuntime } from './stage.js';
import { passwordChallenges } from './challenge.js';

export const passwordStage: StageDef = {
  ...passwordSchema,
  runtime: passwordRuntime,
  challenges: passwordChallenges,
  userSetting: { component: 'ak-user-settings-password', needsConfigureFlow: true },
};

// what other stages may use
export type { PasswordConfig } from './stage.js';
