import type { StageDef } from '../types.js';
import { denySchema } from './schema.js';
import { denyRuntime } from './stage.js';
import { denyChallenges } from './challenge.js';

export const denyStage: StageDef = { ...denySchema, runtime: denyRuntime, challenges: denyChallenges };
