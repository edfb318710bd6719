/** Shared by the setup stages: whose device is being enrolled. */
import type { UsersTable } from '../db/types.js';
import { isPlaceholder } from '../flows/context.js';
import type { StageCall } from '../flows/runtime.js';

/** the pending user (a real one), else the logged-in user; undefined when there is nobody to enrol */
export async function enrolmentUser(c: StageCall<unknown>): Promise<UsersTable | undefined> {
  const p = c.ctx.pendingUser;
  if (p && !isPlaceholder(p))
    return (await c.svc.db.selectFrom('users').selectAll().where('id', '=', p.id!).executeTakeFirst()) as UsersTable | undefined;
  if (p) return undefined;
  return c.requestUser;
}
