import { createStageTable } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const userLogoutSchema = {
  kind: 'userlogoutstage',
  app: 'authentik_stages_user_logout',
  model: 'UserLogoutStage',
  path: 'user_logout',
  table: 'stage_user_logout',
  component: 'ak-stage-user-logout-form',
  verboseName: 'User Logout Stage',
  verboseNamePlural: 'User Logout Stages',
  description: 'Resets the users current session.',
  fields: {},
  filters: { stage_uuid: uuidFilter },
  migrations: {
    stage_user_logout_0001: (dialect) => ({ up: (db) => createStageTable(db, dialect, 'stage_user_logout', {}) }),
  },
} satisfies StageDef;
