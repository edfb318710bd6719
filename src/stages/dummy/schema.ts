import { S } from '../../rest/schema.js';
import { createStageTable } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const dummySchema = {
  kind: 'dummystage',
  app: 'authentik_stages_dummy',
  model: 'DummyStage',
  path: 'dummy',
  table: 'stage_dummy',
  component: 'ak-stage-dummy-form',
  verboseName: 'Dummy Stage',
  verboseNamePlural: 'Dummy Stages',
  description: 'Used for debugging.',
  fields: {
    throw_error: S.bool({ default: false }),
  },
  filters: {
    stage_uuid: uuidFilter,
    throw_error: { type: 'bool', column: 't.throw_error' },
  },
  migrations: {
    stage_dummy_0001: (dialect) => ({ up: (db) => createStageTable(db, dialect, 'stage_dummy', { throw_error: 'bool' }) }),
  },
} satisfies StageDef;
