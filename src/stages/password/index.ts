import type { StageDef } from '../types.js';
import { passwordSchema } from './schema.js';
import { passwordRuntime } from './stage.js';

export const passwordStage: StageDef = { ...passwordSchema, runtime: passwordRuntime };

// what other stages may use
export type { PasswordConfig } from './stage.js';
