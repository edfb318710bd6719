/** The user logout stage shows no challenge: it ends the session and passes (authentik's UserLogoutStage likewise). */
import type { ChallengeDef } from '../../flows/engine/challenge-types.js';

export const userLogoutChallenges: ChallengeDef[] = [];
