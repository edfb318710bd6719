import { S } from '../../rest/schema.js';
import { parseDuration, durationError } from '../../rest/duration.js';
import { ValidationError } from '../../rest/errors.js';
import { createSideChannelDeviceTable, createStageTable, fk } from '../../db/ddl.js';
import { smtpFields } from '../../mail/smtp.js';
import { fieldFilters, uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

const flowRef = { table: 'flows', column: 'flow_uuid' };

const fields = {
  configure_flow: S.fk(flowRef, { default: null }),
  friendly_name: S.text({ default: '', 'x-null-as': '' }),
  ...smtpFields,
  from_address: S.text({ default: 'system@authentik.local', format: 'email' }),
  subject: S.text({ default: 'authentik Sign-in code' }),
  token_expiry: S.str({ default: 'minutes=30', description: 'Time the token sent is valid (Format: hours=3,minutes=17,seconds=300).' }),
  template: S.text({ default: 'email/email_otp.html' }),
};

export const authenticatorEmailSchema = {
  kind: 'authenticatoremailstage',
  app: 'authentik_stages_authenticator_email',
  model: 'AuthenticatorEmailStage',
  path: 'authenticator/email',
  table: 'stage_authenticator_email',
  component: 'ak-stage-authenticator-email-form',
  verboseName: 'Email Authenticator Setup Stage',
  verboseNamePlural: 'Email Authenticator Setup Stages',
  description: 'Setup Email-based authentication for the user.',
  fields,
  // authentik: `filterset_fields = "__all__"`
  filters: { stage_uuid: uuidFilter, ...fieldFilters('stage_authenticator_email', fields) },
  validate(data) {
    if (typeof data.token_expiry === 'string' && parseDuration(data.token_expiry) === undefined)
      throw ValidationError.field('token_expiry', durationError(data.token_expiry));
  },
  migrations: {
    stage_authenticator_email_0001: (dialect) => ({
      async up(db) {
        await createStageTable(db, dialect, 'stage_authenticator_email', {
          configure_flow: fk('flows', 'flow_uuid'),
          friendly_name: 'text',
          use_global_settings: 'bool',
          host: 'text',
          port: 'int',
          username: 'text',
          password: 'text',
          use_tls: 'bool',
          use_ssl: 'bool',
          timeout: 'int',
          from_address: 'text',
          subject: 'text',
          token_expiry: 'text',
          template: 'text',
        });
        await createSideChannelDeviceTable(db, dialect, 'email_devices', 'email');
      },
    }),
  },
} satisfies StageDef;
