import type { StageDef } from '../types.js';
import { userLoginSchema } from './schema.js';
import { userLoginRuntime } from './stage.js';
import { userLoginChallenges } from './challenge.js';

export const userLoginStage: StageDef = { ...userLoginSchema, runtime: userLoginRuntime, challenges: userLoginChallenges };
