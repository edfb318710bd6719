import { S } from '../../rest/schema.js';
import { createStageTable } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const denySchema = {
  kind: 'denystage',
  app: 'authentik_stages_deny',
  model: 'DenyStage',
  path: 'deny',
  table: 'stage_deny',
  component: 'ak-stage-deny-form',
  verboseName: 'Deny Stage',
  verboseNamePlural: 'Deny Stages',
  description: 'Cancels the current flow.',
  fields: {
    deny_message: S.text({ default: '' }),
  },
  filters: {
    stage_uuid: uuidFilter,
    deny_message: { type: 'str', column: 't.deny_message' },
  },
  migrations: {
    stage_deny_0001: (dialect) => ({ up: (db) => createStageTable(db, dialect, 'stage_deny', { deny_message: 'text' }) }),
  },
} satisfies StageDef;
