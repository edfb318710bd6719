import { S } from '../../rest/schema.js';
import { ValidationError } from '../../rest/errors.js';
import { createStageTable, fk } from '../../db/ddl.js';
import type { StageDef } from '../types.js';

export const USER_FIELDS = ['email', 'username', 'upn'] as const;
const flowRef = { table: 'flows', column: 'flow_uuid' };
const stageRef = (kind: string) => ({ table: 'stages', column: 'stage_uuid', kind });

export const identificationSchema = {
  kind: 'identificationstage',
  app: 'authentik_stages_identification',
  model: 'IdentificationStage',
  path: 'identification',
  table: 'stage_identification',
  component: 'ak-stage-identification-form',
  verboseName: 'Identification Stage',
  verboseNamePlural: 'Identification Stages',
  description: 'Identify the user for authentication.',
  fields: {
    user_fields: S.list(S.enumOf(USER_FIELDS), {
      default: [],
      description: 'Fields of the user object to match against. (Hold shift to select multiple options)',
    }),
    password_stage: S.fk(stageRef('passwordstage'), {
      default: null,
      description: 'When set, shows a password field, instead of showing the password field as separate step.',
    }),
    captcha_stage: S.fk(stageRef('captchastage'), {
      default: null,
      description: 'When set, adds functionality exactly like a Captcha stage, but baked into the Identification stage.',
    }),
    case_insensitive_matching: S.bool({ default: true, description: 'When enabled, user fields are matched regardless of their casing.' }),
    show_matched_user: S.bool({
      default: true,
      description:
        "When a valid username/email has been entered, and this option is enabled, the user's username and avatar will be shown. Otherwise, the text that the user entered will be shown",
    }),
    enrollment_flow: S.fk(flowRef, {
      default: null,
      'x-no-reverse': true,
      description: 'Optional enrollment flow, which is linked at the bottom of the page.',
    }),
    recovery_flow: S.fk(flowRef, {
      default: null,
      'x-no-reverse': true,
      description: 'Optional recovery flow, which is linked at the bottom of the page.',
    }),
    passwordless_flow: S.fk(flowRef, {
      default: null,
      'x-no-reverse': true,
      description: 'Optional passwordless flow, which is linked at the bottom of the page.',
    }),
    sources: S.m2m({ table: 'sources', column: 'source_uuid' }, { default: [], description: 'Specify which sources should be shown.' }),
    show_source_labels: S.bool({ default: false }),
    pretend_user_exists: S.bool({
      default: true,
      description: 'When enabled, the stage will succeed and continue even when incorrect user info is entered.',
    }),
    enable_remember_me: S.bool({
      default: false,
      description:
        "Show the user the 'Remember me on this device' toggle, allowing repeat users to skip straight to entering their password.",
    }),
    webauthn_stage: S.fk(stageRef('authenticatorvalidatestage'), {
      default: null,
      description: 'When set, and conditional WebAuthn is available, allow the user to use their passkey as a first factor.',
    }),
  },
  filters: {
    password_stage: { type: 'fk', column: 't.password_stage', ref: stageRef('passwordstage') },
    captcha_stage: { type: 'fk', column: 't.captcha_stage', ref: stageRef('captchastage') },
    webauthn_stage: { type: 'fk', column: 't.webauthn_stage', ref: stageRef('authenticatorvalidatestage') },
    case_insensitive_matching: { type: 'bool', column: 't.case_insensitive_matching' },
    show_matched_user: { type: 'bool', column: 't.show_matched_user' },
    show_source_labels: { type: 'bool', column: 't.show_source_labels' },
    enrollment_flow: { type: 'fk', column: 't.enrollment_flow', ref: flowRef },
    recovery_flow: { type: 'fk', column: 't.recovery_flow', ref: flowRef },
    passwordless_flow: { type: 'fk', column: 't.passwordless_flow', ref: flowRef },
  },
  /** Upstream checks only the keys in the request; Keystage checks the stored values merged with the request. */
  validate(data, _ctx, existing) {
    const userFields = (data.user_fields ?? (existing ? JSON.parse(String(existing.user_fields ?? '[]')) : [])) as string[];
    const sources = (data.sources ?? (existing ? JSON.parse(String(existing.sources ?? '[]')) : [])) as string[];
    if (userFields.length === 0 && sources.length === 0)
      throw ValidationError.nonField('When no user fields are selected, at least one source must be selected');
  },
  migrations: {
    stage_identification_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_identification', {
          user_fields: 'json',
          password_stage: fk('stages', 'stage_uuid'),
          captcha_stage: fk('stages', 'stage_uuid'),
          case_insensitive_matching: 'bool',
          show_matched_user: 'bool',
          enrollment_flow: fk('flows', 'flow_uuid'),
          recovery_flow: fk('flows', 'flow_uuid'),
          passwordless_flow: fk('flows', 'flow_uuid'),
          sources: 'json',
          show_source_labels: 'bool',
          pretend_user_exists: 'bool',
          enable_remember_me: 'bool',
          webauthn_stage: fk('stages', 'stage_uuid'),
        }),
    }),
  },
} satisfies StageDef;
