import { S } from '../../rest/schema.js';
import { createStageTable, fk } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

const flowRef = { table: 'flows', column: 'flow_uuid' };

export const authenticatorTotpSchema = {
  kind: 'authenticatortotpstage',
  app: 'authentik_stages_authenticator_totp',
  model: 'AuthenticatorTOTPStage',
  path: 'authenticator/totp',
  table: 'stage_authenticator_totp',
  component: 'ak-stage-authenticator-totp-form',
  verboseName: 'TOTP Authenticator Setup Stage',
  verboseNamePlural: 'TOTP Authenticator Setup Stages',
  description: 'Setup Time-based OTP authentication for the user.',
  fields: {
    configure_flow: S.fk(flowRef, {
      default: null,
      description: 'Flow used by an authenticated user to configure this Stage. If empty, user will not be able to configure this stage.',
    }),
    // authentik 2024.12 allowed null here; it is stored as ""
    friendly_name: S.text({ default: '', 'x-null-as': '' }),
    digits: S.enumOf(['6', '8'] as const, { 'x-emit-string': true }),
  },
  filters: {
    stage_uuid: uuidFilter,
    configure_flow: { type: 'fk', column: 't.configure_flow', ref: flowRef },
    friendly_name: { type: 'str', column: 't.friendly_name' },
    digits: { type: 'enum', column: 't.digits', values: ['6', '8'] },
  },
  migrations: {
    stage_authenticator_totp_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_authenticator_totp', {
          configure_flow: fk('flows', 'flow_uuid'),
          friendly_name: 'text',
          digits: 'int',
        }),
    }),
  },
} satisfies StageDef;
