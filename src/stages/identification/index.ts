import type { StageDef } from '../types.js';
import { identificationSchema } from './schema.js';
import { identificationRuntime } from './stage.js';
import { identificationChallenges } from './challenge.js';

export const identificationStage: StageDef = {
  ...identificationSchema,
  runtime: identificationRuntime,
  challenges: identificationChallenges,
};
