import type { StageDef } from '../types.js';
import { emailSchema } from './schema.js';
import { emailRuntime } from './stage.js';
import { emailChallenges } from './challenge.js';
import { mountEmailRoutes } from './api.js';

export const emailStage: StageDef = { ...emailSchema, runtime: emailRuntime, challenges: emailChallenges, routes: mountEmailRoutes };

export type { EmailConfig } from './stage.js';
