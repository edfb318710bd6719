import type { StageDef } from '../types.js';
import { authenticatorTotpSchema } from './schema.js';
import { authenticatorTotpRuntime } from './stage.js';
import { authenticatorTotpChallenges } from './challenge.js';

export const authenticatorTotpStage: StageDef = {
  ...authenticatorTotpSchema,
  runtime: authenticatorTotpRuntime,
  challenges: authenticatorTotpChallenges,
  userSetting: { component: 'ak-user-settings-authenticator-totp' },
};
