import type { StageDef } from '../types.js';
import { sourceStageSchema } from './schema.js';
import { sourceStageRuntime } from './stage.js';

export const sourceStage: StageDef = { ...sourceStageSchema, runtime: sourceStageRuntime, challenges: [] };
