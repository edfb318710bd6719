/**
 * Using an invitation for good, inside the transaction that writes the user (the user write stage calls this) or on
 * its own when no user write follows: a single-use invitation is deleted by one statement that must delete exactly
 * its row, so of two flows using it at once only one succeeds, on SQLite and PostgreSQL alike (the second DELETE
 * waits for the first transaction and then finds nothing); an invitation that has expired or been deleted meanwhile
 * is refused too. The write that depends on it is rolled back with it.
 */
import type { Tx } from '../../rest/resource.js';
import type { DB } from '../../db/index.js';
import type { FlowContext } from '../../flows/engine/context.js';
import { INVITATIONS_TABLE } from './schema.js';

export const INVALID_INVITE = 'Invalid invite/invite not found';

/** the plan's invitation can no longer be used: the transaction that claimed it must not commit */
export class InvitationInvalid extends Error {
  constructor() {
    super(INVALID_INVITE);
  }
}

/**
 * Claims the plan's invitation (if any, and not yet claimed) in `tx`; throws InvitationInvalid when it is gone. Call
 * `invitationClaimed` once the transaction committed.
 */
export async function claimInvitation(tx: Tx | DB, ctx: FlowContext): Promise<void> {
  const inv = ctx.invitation;
  if (!inv || inv.claimed) return;
  const now = new Date().toISOString();
  if (inv.single_use) {
    const r = await tx
      .deleteFrom(INVITATIONS_TABLE)
      .where('invite_uuid', '=', inv.pk)
      .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', now)]))
      .executeTakeFirst();
    if (Number(r.numDeletedRows) !== 1) throw new InvitationInvalid();
    return;
  }
  const found = await tx
    .selectFrom(INVITATIONS_TABLE)
    .select('invite_uuid')
    .where('invite_uuid', '=', inv.pk)
    .where((eb) => eb.or([eb('expires', 'is', null), eb('expires', '>', now)]))
    .executeTakeFirst();
  if (!found) throw new InvitationInvalid();
}

/** after the claiming transaction committed: a single-use invitation is spent, not to be claimed again */
export function invitationClaimed(ctx: FlowContext): void {
  if (ctx.invitation?.single_use) ctx.invitation.claimed = true;
}
