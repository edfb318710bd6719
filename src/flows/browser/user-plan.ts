/**
 * A flow planned for someone already logged in, with them as the pending user, and kept in their session so the flow
 * interface continues it: a stage's `configure_flow` (/flows/-/configure/{stage}/) and the `execute` API action.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import type { Sessions } from '../../sessions/sessions.js';
import { isSuperuser } from '../../rest/auth.js';
import { planFlow } from '../engine/planner.js';

/** false when the flow does not apply to the user (its authentication requirement) */
export async function planForUser(db: DB, sessions: Sessions, flow: FlowsTable, user: UsersTable, req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  const pendingUser = { id: user.id, username: user.username, email: user.email, name: user.name };
  const r = await planFlow(db, flow, { user, superuser: await isSuperuser(db, user.id) }, { pendingUser });
  if (r.type === 'not_applicable') return false;
  const session = await sessions.load(req);
  session.data.plan = r.type === 'plan' ? r.plan : undefined;
  session.data.query = {};
  session.dirty = true;
  await sessions.save(session, req, reply);
  return true;
}
