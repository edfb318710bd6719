/** User logout: deletes the server-side session and clears its cookies; no challenge. */
import { ok, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';

async function logout(c: StageCall<unknown>) {
  const user = c.requestUser;
  await c.svc.sessions.destroy(c.session, c.reply);
  if (user) await c.svc.events.emit('logout', { user: { pk: user.id, username: user.username, email: user.email }, req: c.req });
  return ok();
}

export const userLogoutRuntime: StageRuntime<unknown> = {
  component: 'ak-stage-user-logout',
  withUserInfo: false,
  challenge: logout,
  respond: logout,
};
