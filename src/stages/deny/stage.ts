/** Deny stage: ends the flow with its message (or the context's). */
import { deny, type StageRuntime } from '../../flows/engine/runtime.js';

export interface DenyConfig {
  deny_message: string;
}

export const denyRuntime: StageRuntime<DenyConfig> = {
  component: 'ak-stage-access-denied',
  withUserInfo: true,
  async challenge(c) {
    return deny(c.ctx.denyMessage || c.config.deny_message || undefined);
  },
  async respond(c) {
    return deny(c.ctx.denyMessage || c.config.deny_message || undefined);
  },
};
