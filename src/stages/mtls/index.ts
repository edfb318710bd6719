import type { StageDef } from '../types.js';
import { mtlsSchema } from './schema.js';
import { mtlsRuntime } from './stage.js';

export const mtlsStage: StageDef = { ...mtlsSchema, runtime: mtlsRuntime, challenges: [] };
