import type { StageDef } from '../types.js';
import { redirectSchema } from './schema.js';
import { redirectRuntime } from './stage.js';

export const redirectStage: StageDef = { ...redirectSchema, runtime: redirectRuntime, challenges: [] };
