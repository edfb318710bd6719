import type { StageDef } from '../types.js';
import { denySchema } from './schema.js';
import { denyRuntime } from './stage.js';

export const denyStage: StageDef = { ...denySchema, runtime: denyRuntime };
