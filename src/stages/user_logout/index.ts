import type { StageDef } from '../types.js';
import { userLogoutSchema } from './schema.js';
import { userLogoutRuntime } from './stage.js';

export const userLogoutStage: StageDef = { ...userLogoutSchema, runtime: userLogoutRuntime };
