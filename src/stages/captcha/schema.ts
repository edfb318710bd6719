import { S } from '../../rest/schema.js';
import { createStageTable } from '../../db/ddl.js';
import type { StageDef } from '../types.js';

export const REQUEST_CONTENT_TYPES = ['application/x-www-form-urlencoded', 'application/json'] as const;

export const captchaSchema = {
  kind: 'captchastage',
  app: 'authentik_stages_captcha',
  model: 'CaptchaStage',
  path: 'captcha',
  table: 'stage_captcha',
  component: 'ak-stage-captcha-form',
  verboseName: 'Captcha Stage',
  verboseNamePlural: 'Captcha Stages',
  description: "Verify the user is human using Google's reCaptcha/other compatible CAPTCHA solutions.",
  fields: {
    public_key: S.str({ description: 'Public key, acquired your captcha Provider.' }),
    private_key: S.wo(S.str({ 'x-no-trim': true, description: 'Private key, acquired your captcha Provider.' })),
    js_url: S.str({ default: 'https://www.recaptcha.net/recaptcha/api.js' }),
    api_url: S.str({ default: 'https://www.recaptcha.net/recaptcha/api/siteverify' }),
    request_content_type: S.enumOf(REQUEST_CONTENT_TYPES, { default: 'application/x-www-form-urlencoded' }),
    interactive: S.bool({ default: false }),
    score_min_threshold: S.float({ default: 0.5 }),
    score_max_threshold: S.float({ default: 1.0 }),
    error_on_invalid_score: S.bool({
      default: true,
      description:
        'When enabled and the received captcha score is outside of the given threshold, the stage will show an error message. When not enabled, the flow will continue, but the data from the captcha will be available in the context for policy decisions',
    }),
  },
  filters: {
    public_key: { type: 'str', column: 't.public_key' },
  },
  migrations: {
    stage_captcha_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_captcha', {
          public_key: 'text',
          private_key: 'text',
          js_url: 'text',
          api_url: 'text',
          request_content_type: 'text',
          interactive: 'bool',
          score_min_threshold: 'float',
          score_max_threshold: 'float',
          error_on_invalid_score: 'bool',
        }),
    }),
  },
} satisfies StageDef;
