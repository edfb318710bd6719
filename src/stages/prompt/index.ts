import type { StageDef } from '../types.js';
import { promptSchema } from './schema.js';
import { promptRuntime } from './stage.js';
import { promptChallenges } from './challenge.js';
import { mountPromptRoutes } from './api.js';

export const promptStage: StageDef = { ...promptSchema, runtime: promptRuntime, challenges: promptChallenges, routes: mountPromptRoutes };

// what other stages may use
export type { PromptConfig } from './stage.js';
