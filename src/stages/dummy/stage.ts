/** Dummy stage: a challenge with the stage's name; any response passes. `throw_error` makes rendering fail. */
import { ok, show, type StageRuntime } from '../../flows/engine/runtime.js';
import type { StageChallenge } from '../../flows/engine/challenge-types.js';
import type { DummyChallenge } from './challenge.js';
import type { StageConfig } from '../types.js';
import type { dummySchema } from './schema.js';

/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type DummyConfig = StageConfig<typeof dummySchema>;

export const dummyRuntime: StageRuntime<DummyConfig> = {
  component: 'ak-stage-dummy',
  withUserInfo: false,
  async challenge(c) {
    if (c.config.throw_error) throw new Error('dummy stage: throw_error is set');
    const challenge: StageChallenge<typeof DummyChallenge> = { component: 'ak-stage-dummy', name: c.config.name };
    return show(challenge);
  },
  async respond() {
    return ok();
  },
};
