import type { StageDef } from '../types.js';
import { authenticatorEmailSchema } from './schema.js';
import { authenticatorEmailRuntime } from './stage.js';

export const authenticatorEmailStage: StageDef = { ...authenticatorEmailSchema, runtime: authenticatorEmailRuntime };
