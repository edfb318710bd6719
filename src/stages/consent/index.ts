import type { StageDef } from '../types.js';
import { consentSchema } from './schema.js';
import { consentRuntime } from './stage.js';
import { consentChallenges } from './challenge.js';

export const consentStage: StageDef = { ...consentSchema, runtime: consentRuntime, challenges: consentChallenges };
