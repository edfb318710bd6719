import type { StageDef } from '../types.js';
import { userLogoutSchema } from './schema.js';
import { userLogoutRuntime } from './stage.js';
import { userLogoutChallenges } from './challenge.js';

export const userLogoutStage: StageDef = { ...userLogoutSchema, runtime: userLogoutRuntime, challenges: userLogoutChallenges };
