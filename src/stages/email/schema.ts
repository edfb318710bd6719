/** The e-mail stage (authentik's EmailStage, `/stages/email/`): a link with a single-use token, sent over SMTP. */
import { S } from '../../rest/schema.js';
import { durationError, parseDuration } from '../../rest/duration.js';
import { ValidationError } from '../../rest/errors.js';
import { smtpFields } from '../../mail/smtp.js';
import { createStageTable } from '../../db/ddl.js';
import { fieldFilters, uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

const fields = {
  ...smtpFields,
  from_address: S.text({ default: 'system@authentik.local', format: 'email', maxLength: 254 }),
  token_expiry: S.str({ default: 'minutes=30', description: 'Time the token sent is valid (Format: hours=3,minutes=17,seconds=300).' }),
  subject: S.text({ default: 'authentik' }),
  template: S.text({ default: 'email/password_reset.html' }),
  activate_user_on_success: S.bool({ default: false, description: 'Activate users upon completion of stage.' }),
  recovery_max_attempts: S.int({ default: 5, minimum: 0, maximum: 2147483647 }),
  recovery_cache_timeout: S.str({
    default: 'minutes=5',
    description:
      'The time window used to count recent account recovery attempts. If the number of attempts exceed recovery_max_attempts within this period, further attempts will be rate-limited. (Format: hours=1;minutes=2;seconds=3).',
  }),
};

/** authentik's list filters (EmailStageFilter): no secret, no recovery settings */
const FILTERED = [
  'use_global_settings',
  'host',
  'port',
  'username',
  'use_tls',
  'use_ssl',
  'timeout',
  'from_address',
  'token_expiry',
  'subject',
  'template',
  'activate_user_on_success',
] as const;

export const emailSchema = {
  kind: 'emailstage',
  app: 'authentik_stages_email',
  model: 'EmailStage',
  path: 'email',
  table: 'stage_email',
  component: 'ak-stage-email-form',
  verboseName: 'Email Stage',
  verboseNamePlural: 'Email Stages',
  description: 'Send an e-mail with a link that continues the flow, to verify the address (sign-up, recovery).',
  fields,
  filters: { stage_uuid: uuidFilter, ...fieldFilters('stage_email', fields, FILTERED) },
  validate(data) {
    for (const f of ['token_expiry', 'recovery_cache_timeout'] as const) {
      const v = data[f];
      if (typeof v === 'string' && parseDuration(v) === undefined) throw ValidationError.field(f, durationError(v));
    }
  },
  migrations: {
    stage_email_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_email', {
          use_global_settings: 'bool',
          host: 'text',
          port: 'int',
          username: 'text',
          password: 'text',
          use_tls: 'bool',
          use_ssl: 'bool',
          timeout: 'int',
          from_address: 'text',
          token_expiry: 'text',
          subject: 'text',
          template: 'text',
          activate_user_on_success: 'bool',
          recovery_max_attempts: 'int',
          recovery_cache_timeout: 'text',
        }),
    }),
  },
} satisfies StageDef;
