import { S } from '../../rest/schema.js';
import { createStageTable, fk } from '../../db/ddl.js';
import { fieldFilters, uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

const flowRef = { table: 'flows', column: 'flow_uuid' };

const fields = {
  deactivate_user: S.bool({ default: true, description: 'Deactivate the user account (set is_active to False)' }),
  set_unusable_password: S.bool({ default: true, description: 'Set an unusable password for the user' }),
  delete_sessions: S.bool({ default: true, description: 'Delete all active sessions for the user' }),
  revoke_tokens: S.bool({
    default: true,
    description: 'Revoke all tokens for the user (API, app password, recovery, verification, OAuth)',
  }),
  self_service_completion_flow: S.fk(flowRef, {
    default: null,
    description:
      "Flow to redirect users to after self-service lockdown. This flow should not require authentication since the user's session is deleted.",
  }),
};

export const accountLockdownSchema = {
  kind: 'accountlockdownstage',
  app: 'authentik_stages_account_lockdown',
  model: 'AccountLockdownStage',
  path: 'account_lockdown',
  table: 'stage_account_lockdown',
  component: 'ak-stage-account-lockdown-form',
  verboseName: 'Account Lockdown Stage',
  verboseNamePlural: 'Account Lockdown Stages',
  description: 'Lock down a target user account.',
  fields,
  // authentik's filterset_fields = "__all__"
  filters: { ...fieldFilters('stage_account_lockdown', fields), stage_uuid: uuidFilter },
  migrations: {
    stage_account_lockdown_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_account_lockdown', {
          deactivate_user: 'bool',
          set_unusable_password: 'bool',
          delete_sessions: 'bool',
          revoke_tokens: 'bool',
          self_service_completion_flow: fk('flows', 'flow_uuid'),
        }),
    }),
  },
} satisfies StageDef;
