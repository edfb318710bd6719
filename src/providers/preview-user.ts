/**
 * The user a provider's `preview_user/` previews (authentik's `for_user`): the caller, or the user whose pk the query
 * names — only one the caller may view (else "User not found", as for a pk that names nobody).
 */
import type { FastifyRequest } from 'fastify';
import type { UsersTable } from '../db/types.js';
import { can } from '../rbac/check.js';
import { ValidationError } from '../rest/errors.js';
import type { Services } from '../services.js';
import { userById } from '../users/by-id.js';
import { lastValue } from '../rest/routes.js';

export const FOR_USER_QUERY = [{ name: 'for_user', schema: { type: 'integer' } }];

export async function previewedUser(svc: Services, req: FastifyRequest): Promise<UsersTable> {
  const caller = req.caller!;
  const q = req.query as Record<string, string | string[] | undefined>;
  const raw = lastValue(q.for_user);
  if (raw === undefined) return caller.user as UsersTable;
  if (!/^\s*-?\d+\s*$/.test(raw)) throw ValidationError.bare('for_user', 'input must be numerical');
  const id = Number(raw);
  const user = await userById(svc.db, id);
  if (!user || !(await can(svc.db, caller, 'authentik_core.view_user', user.id))) throw ValidationError.bare('for_user', 'User not found');
  return user;
}
