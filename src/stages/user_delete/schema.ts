import { createStageTable } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const userDeleteSchema = {
  kind: 'userdeletestage',
  app: 'authentik_stages_user_delete',
  model: 'UserDeleteStage',
  path: 'user_delete',
  table: 'stage_user_delete',
  component: 'ak-stage-user-delete-form',
  verboseName: 'User Delete Stage',
  verboseNamePlural: 'User Delete Stages',
  description: 'Deletes the currently pending user without confirmation. Use with caution.',
  fields: {},
  // authentik's filterset_fields = "__all__": the base fields (name) and the pk
  filters: { stage_uuid: uuidFilter },
  migrations: {
    stage_user_delete_0001: (dialect) => ({ up: (db) => createStageTable(db, dialect, 'stage_user_delete', {}) }),
  },
} satisfies StageDef;
