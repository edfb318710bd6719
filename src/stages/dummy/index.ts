import type { StageDef } from '../types.js';
import { dummySchema } from './schema.js';
import { dummyRuntime } from './stage.js';

export const dummyStage: StageDef = { ...dummySchema, runtime: dummyRuntime };
