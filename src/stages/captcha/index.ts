import type { StageDef } from '../types.js';
import { captchaSchema } from './schema.js';
import { captchaRuntime } from './stage.js';

export const captchaStage: StageDef = { ...captchaSchema, runtime: captchaRuntime };
