import type { StageDef } from '../types.js';
import { invitationSchema } from './schema.js';
import { invitationRuntime } from './stage.js';
import { mountInvitationRoutes } from './invitations.js';

export const invitationStage: StageDef = { ...invitationSchema, runtime: invitationRuntime, challenges: [], routes: mountInvitationRoutes };

// what other stages may use: the user write stage claims the plan's invitation in its transaction
export { claimInvitation, invitationClaimed, InvitationInvalid } from './claim.js';
