import type { StageDef } from '../types.js';
import { authenticatorEmailSchema } from './schema.js';
import { authenticatorEmailRuntime } from './stage.js';
import { authenticatorEmailChallenges } from './challenge.js';

export const authenticatorEmailStage: StageDef = {
  ...authenticatorEmailSchema,
  runtime: authenticatorEmailRuntime,
  challenges: authenticatorEmailChallenges,
  userSetting: { component: 'ak-user-settings-authenticator-email' },
};
