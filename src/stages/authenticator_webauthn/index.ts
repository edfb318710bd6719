import type { StageDef } from '../types.js';
import { authenticatorWebauthnSchema } from './schema.js';
import { authenticatorWebauthnRuntime } from './stage.js';

export const authenticatorWebauthnStage: StageDef = { ...authenticatorWebauthnSchema, runtime: authenticatorWebauthnRuntime };
