import type { StageDef } from '../types.js';
import { authenticatorStaticSchema } from './schema.js';
import { authenticatorStaticRuntime } from './stage.js';
import { authenticatorStaticChallenges } from './challenge.js';

export const authenticatorStaticStage: StageDef = {
  ...authenticatorStaticSchema,
  runtime: authenticatorStaticRuntime,
  challenges: authenticatorStaticChallenges,
  userSetting: { component: 'ak-user-settings-authenticator-static' },
};
