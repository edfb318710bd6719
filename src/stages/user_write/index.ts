import type { StageDef } from '../types.js';
import { userWriteSchema } from './schema.js';
import { userWriteRuntime } from './stage.js';
import { userWriteChallenges } from './challenge.js';

export const userWriteStage: StageDef = { ...userWriteSchema, runtime: userWriteRuntime, challenges: userWriteChallenges };

// what other stages may use
export type { UserWriteConfig } from './stage.js';
