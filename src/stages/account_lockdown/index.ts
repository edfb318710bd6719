import type { StageDef } from '../types.js';
import { accountLockdownSchema } from './schema.js';
import { accountLockdownRuntime } from './stage.js';
import { mountAccountLockdown } from './api.js';

export const accountLockdownStage: StageDef = {
  ...accountLockdownSchema,
  runtime: accountLockdownRuntime,
  challenges: [],
  routes: (router, _db, svc) => mountAccountLockdown(router, svc),
};
