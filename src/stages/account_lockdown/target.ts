/** Who may be locked down, and by whom (authentik's `get_lockdown_target_users` and `can_lock_user`). */
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import { can } from '../../rbac/check.js';
import { isSuperuser } from '../../rest/auth.js';

/** every account but the internal service accounts (outposts' own) */
export const lockable = (u: Pick<UsersTable, 'type'>) => u.type !== 'internal_service_account';

/**
 * oneself always; someone else with `authentik_core.change_user` (for all users or on that one) — and, beyond
 * authentik, a superuser only by a superuser (src/rbac/guards.ts)
 */
export async function canLockUser(db: DB, actor: UsersTable | undefined, target: UsersTable): Promise<boolean> {
  if (!actor) return false;
  if (actor.id === target.id) return true;
  const subject = { user: actor, superuser: await isSuperuser(db, actor.id) };
  if (!subject.superuser && (await isSuperuser(db, target.id))) return false;
  return can(db, subject, 'authentik_core.change_user', target.id);
}
