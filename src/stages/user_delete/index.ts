import type { StageDef } from '../types.js';
import { userDeleteSchema } from './schema.js';
import { userDeleteRuntime } from './stage.js';

export const userDeleteStage: StageDef = { ...userDeleteSchema, runtime: userDeleteRuntime, challenges: [] };
