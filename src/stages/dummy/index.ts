import type { StageDef } from '../types.js';
import { dummySchema } from './schema.js';
import { dummyRuntime } from './stage.js';
import { dummyChallenges } from './challenge.js';

export const dummyStage: StageDef = { ...dummySchema, runtime: dummyRuntime, challenges: dummyChallenges };
