import type { StageDef } from '../types.js';
import { authenticatorValidateSchema } from './schema.js';
import { authenticatorValidateRuntime } from './stage.js';

export const authenticatorValidateStage: StageDef = { ...authenticatorValidateSchema, runtime: authenticatorValidateRuntime };
