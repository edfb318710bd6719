/** The user write stage shows no challenge: it writes and passes, or denies (authentik's UserWriteStageView likewise). */
import type { ChallengeDef } from '../../flows/engine/challenge-types.js';

export const userWriteChallenges: ChallengeDef[] = [];
