import type { StageDef } from '../types.js';
import { authenticatorSmsSchema } from './schema.js';
import { authenticatorSmsRuntime } from './stage.js';
import { authenticatorSmsChallenges } from './challenge.js';

export const authenticatorSmsStage: StageDef = {
  ...authenticatorSmsSchema,
  runtime: authenticatorSmsRuntime,
  challenges: authenticatorSmsChallenges,
  userSetting: { component: 'ak-user-settings-authenticator-sms' },
};
