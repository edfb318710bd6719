import type { StageDef } from '../types.js';
import { authenticatorTotpSchema } from './schema.js';
import { authenticatorTotpRuntime } from './stage.js';

export const authenticatorTotpStage: StageDef = { ...authenticatorTotpSchema, runtime: authenticatorTotpRuntime };
