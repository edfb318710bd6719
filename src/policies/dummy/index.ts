/** The dummy policy: a fixed result after a random wait between wait_min and wait_max seconds (authentik's). */
import { setTimeout as sleep } from 'node:timers/promises';
import type { PolicyConfig, PolicyDef } from '../types.js';
import { dummySchema } from './schema.js';

type Config = PolicyConfig<typeof dummySchema>;

export const dummyPolicy: PolicyDef = {
  ...dummySchema,
  async evaluate({ config, timeoutMs }: { config: Config; timeoutMs: number }) {
    const min = Math.max(0, Math.min(config.wait_min, config.wait_max));
    const max = Math.max(0, config.wait_max, config.wait_min);
    const seconds = min + Math.floor(Math.random() * (max - min + 1));
    // never beyond the binding's timeout: the engine has given up by then
    if (seconds > 0) await sleep(Math.min(seconds * 1000, timeoutMs + 50), undefined, { ref: false });
    return { passing: config.result, messages: ['dummy'] };
  },
  contextOnly: () => true,
};
