import { S } from '../../rest/schema.js';
import { createStageTable, fk } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

const flowRef = { table: 'flows', column: 'flow_uuid' };

export const authenticatorStaticSchema = {
  kind: 'authenticatorstaticstage',
  app: 'authentik_stages_authenticator_static',
  model: 'AuthenticatorStaticStage',
  path: 'authenticator/static',
  table: 'stage_authenticator_static',
  component: 'ak-stage-authenticator-static-form',
  verboseName: 'Static Authenticator Setup Stage',
  verboseNamePlural: 'Static Authenticator Setup Stages',
  description: 'Setup static token based authentication for the user.',
  fields: {
    configure_flow: S.fk(flowRef, { default: null }),
    friendly_name: S.text({ default: '', 'x-null-as': '' }),
    token_count: S.int({ default: 6, minimum: 0 }),
    token_length: S.int({ default: 12, minimum: 0, maximum: 100 }),
  },
  filters: {
    stage_uuid: uuidFilter,
    configure_flow: { type: 'fk', column: 't.configure_flow', ref: flowRef },
    friendly_name: { type: 'str', column: 't.friendly_name' },
    token_count: { type: 'int', column: 't.token_count' },
    token_length: { type: 'int', column: 't.token_length' },
  },
  migrations: {
    stage_authenticator_static_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_authenticator_static', {
          configure_flow: fk('flows', 'flow_uuid'),
          friendly_name: 'text',
          token_count: 'int',
          token_length: 'int',
        }),
    }),
  },
} satisfies StageDef;
