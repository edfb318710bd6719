/**
 * The deny stage renders no challenge of its own: it ends the flow, and the executor answers with the shared
 * access-denied challenge (authentik's AccessDeniedChallenge), which takes no response.
 */
export { AccessDeniedChallenge } from '../../flows/engine/challenge-types.js';
import type { ChallengeDef } from '../../flows/engine/challenge-types.js';

/** none beyond the executor's shared ones */
export const denyChallenges: ChallengeDef[] = [];
