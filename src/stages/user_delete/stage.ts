/**
 * The user delete stage at run time (authentik's UserDeleteStageView): no challenge. Deletes the pending user, else
 * whoever is logged in ("No Pending User." without one): the request's own session is logged out (cookies cleared,
 * the logout listeners told — an OAuth2 provider's tokens of that session end), every other session of the user ends
 * the same way (before the user goes), and a `model_deleted` event records who was deleted. The flow goes on without a pending
 * user (its plan stays in the new anonymous session).
 */
import { systemSettings } from '../../instance/system-settings/store.js';
import { deleteEventsOfUser } from '../../events/events.js';
import { deny, ok, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageConfig } from '../types.js';
import type { userDeleteSchema } from './schema.js';
import { lockConfigEpoch } from '../../db/config-epoch.js';

export type UserDeleteConfig = StageConfig<typeof userDeleteSchema>;

const NO_USER = 'No Pending User.';

async function run(c: StageCall<UserDeleteConfig>): Promise<Outcome> {
  const user = await c.pendingUser();
  if (!user) return deny(NO_USER);
  // the person's own session first (authentik's logout), so its listeners see it end
  const self = c.session.userId === user.id;
  if (self) await c.svc.sessions.destroy(c.session, c.reply);
  // and the others, as logouts: their providers told while the user and their tokens still exist
  await c.svc.sessions.endAllOf(user.id, self ? 'user' : 'admin');
  const { gdpr_compliance } = await systemSettings(c.svc.db);
  await c.svc.db.transaction().execute(async (tx) => {
    // (a user's, group's or token's deletion reaches configuration tables through their foreign keys: the admin-write lock first)
    await lockConfigEpoch(tx);
    if (gdpr_compliance) await deleteEventsOfUser(tx, user.id);
    await tx.deleteFrom('sessions').where('user_id', '=', user.id).execute();
    await tx.deleteFrom('users').where('id', '=', user.id).execute();
  });
  c.req.log.info({ stage: c.stage.name, user: user.id }, 'user delete: deleted user');
  await c.svc.events.emit('model_deleted', {
    user: c.requestUser && c.requestUser.id !== user.id ? { pk: c.requestUser.id, username: c.requestUser.username } : null,
    req: c.req,
    context: { model: { app: 'authentik_core', model_name: 'user', pk: user.id, name: user.username } },
  });
  c.ctx.pendingUser = undefined;
  c.ctx.pendingUserIdentifier = undefined;
  return ok();
}

export const userDeleteRuntime: StageRuntime<UserDeleteConfig> = {
  component: 'ak-stage-user-delete',
  withUserInfo: false,
  challenge: run,
  respond: run,
};
