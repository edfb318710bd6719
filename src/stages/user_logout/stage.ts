/** User logout: deletes the server-side session and clears its cookies; no challenge. */
import { ok, type StageRuntime } from '../../flows/runtime.js';

export const userLogoutRuntime: StageRuntime<unknown> = {
  component: 'ak-stage-user-logout',
  withUserInfo: false,
  async challenge(c) {
    await c.svc.sessions.destroy(c.session, c.reply);
    return ok();
  },
  async respond(c) {
    await c.svc.sessions.destroy(c.session, c.reply);
    return ok();
  },
};
