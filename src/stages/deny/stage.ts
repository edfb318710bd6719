/** Deny stage: ends the flow with its message (or the context's). */
import { deny, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageConfig } from '../types.js';
import type { denySchema } from './schema.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type DenyConfig = StageConfig<typeof denySchema>;

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
