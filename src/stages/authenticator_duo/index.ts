import type { StageDef } from '../types.js';
import { authenticatorDuoSchema } from './schema.js';
import { authenticatorDuoRuntime } from './stage.js';
import { authenticatorDuoChallenges } from './challenge.js';
import { mountDuoActions } from './actions.js';
import { mountDuoEnrollmentStatus } from './enrollment-status.js';

export const authenticatorDuoStage: StageDef = {
  ...authenticatorDuoSchema,
  runtime: authenticatorDuoRuntime,
  challenges: authenticatorDuoChallenges,
  userSetting: { component: 'ak-user-settings-authenticator-duo' },
  routes: (router, db, svc) => {
    mountDuoActions(router, db);
    mountDuoEnrollmentStatus(router, svc);
  },
};
