import { S } from '../../rest/schema.js';
import { createStageTable, fk } from '../../db/ddl.js';
import { fieldFilters, uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const MATCH_FAILURES = ['missing_property'] as const;

const fields = {
  // required: deleting the source deletes the stage (authentik's on_delete=CASCADE)
  source: S.fk({ table: 'sources', column: 'source_uuid' }, { nullable: false }),
  resume_timeout: S.duration({
    default: 'minutes=10',
    description: 'Amount of time a user can take to return from the source to continue the flow (Format: hours=-1;minutes=-2;seconds=-3)',
  }),
  resume_on_match_failures: S.list(S.enumOf(MATCH_FAILURES), {
    default: [],
    description: 'Source matching failure reasons for which the flow should resume.',
  }),
};

export const sourceStageSchema = {
  kind: 'sourcestage',
  app: 'authentik_stages_source',
  model: 'SourceStage',
  path: 'source',
  table: 'stage_source',
  component: 'ak-stage-source-form',
  verboseName: 'Source Stage',
  verboseNamePlural: 'Source Stages',
  description: 'Suspend the current flow execution and send the user to a source, after which this flow execution is resumed.',
  fields,
  // authentik's filterset: stage_uuid, name, source, resume_timeout
  filters: {
    stage_uuid: uuidFilter,
    ...fieldFilters('stage_source', { source: fields.source, resume_timeout: fields.resume_timeout }),
  },
  migrations: {
    stage_source_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_source', {
          source: fk('sources', 'source_uuid', 'cascade'),
          resume_timeout: 'text',
          resume_on_match_failures: 'json',
        }),
    }),
  },
} satisfies StageDef;
