import { S } from '../../rest/schema.js';
import { createStageTable, fk } from '../../db/ddl.js';
import type { StageDef } from '../types.js';

export const BACKENDS = [
  'authentik.core.auth.InbuiltBackend',
  'authentik.core.auth.TokenBackend',
  'authentik.sources.ldap.auth.LDAPBackend',
  'authentik.sources.kerberos.auth.KerberosBackend',
] as const;
const flowRef = { table: 'flows', column: 'flow_uuid' };

export const passwordSchema = {
  kind: 'passwordstage',
  app: 'authentik_stages_password',
  model: 'PasswordStage',
  path: 'password',
  table: 'stage_password',
  component: 'ak-stage-password-form',
  verboseName: 'Password Stage',
  verboseNamePlural: 'Password Stages',
  description: 'Prompt the user for their password, and validate it against the configured backends.',
  fields: {
    backends: S.list(S.enumOf(BACKENDS), { 'x-allow-empty': false, description: 'Selection of backends to test the password against.' }),
    configure_flow: S.fk(flowRef, {
      default: null,
      description: 'Flow used by an authenticated user to configure this Stage. If empty, user will not be able to configure this stage.',
    }),
    failed_attempts_before_cancel: S.int({
      default: 5,
      description:
        'How many attempts a user has before the flow is canceled. To lock the user out, use a reputation policy and a user_write stage.',
    }),
    allow_show_password: S.bool({
      default: false,
      description: "When enabled, provides a 'show password' button with the password input field.",
    }),
  },
  filters: {
    configure_flow: { type: 'fk', column: 't.configure_flow', ref: flowRef },
    failed_attempts_before_cancel: { type: 'int', column: 't.failed_attempts_before_cancel' },
    allow_show_password: { type: 'bool', column: 't.allow_show_password' },
  },
  migrations: {
    stage_password_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_password', {
          backends: 'json',
          configure_flow: fk('flows', 'flow_uuid'),
          failed_attempts_before_cancel: 'int',
          allow_show_password: 'bool',
        }),
    }),
  },
} satisfies StageDef;
