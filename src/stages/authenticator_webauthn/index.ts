import type { StageDef } from '../types.js';
import { authenticatorWebauthnSchema } from './schema.js';
import { authenticatorWebauthnRuntime } from './stage.js';
import { authenticatorWebauthnChallenges } from './challenge.js';

export const authenticatorWebauthnStage: StageDef = {
  ...authenticatorWebauthnSchema,
  runtime: authenticatorWebauthnRuntime,
  challenges: authenticatorWebauthnChallenges,
  userSetting: { component: 'ak-user-settings-authenticator-webauthn' },
};
