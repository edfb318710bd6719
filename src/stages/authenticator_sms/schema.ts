import { S } from '../../rest/schema.js';
import { createSideChannelDeviceTable, createStageTable, fk } from '../../db/ddl.js';
import { fieldFilters, uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

const flowRef = { table: 'flows', column: 'flow_uuid' };
export const PROVIDERS = ['twilio', 'generic'] as const;
export const AUTH_TYPES = ['basic', 'bearer'] as const;

const fields = {
  configure_flow: S.fk(flowRef, { default: null }),
  friendly_name: S.text({ default: '', 'x-null-as': '' }),
  provider: S.enumOf(PROVIDERS),
  from_number: S.str(),
  account_sid: S.str({ description: 'Twilio account SID, or the URL of a generic provider' }),
  auth: S.wo(S.str({ 'x-no-trim': true })),
  auth_password: S.wo(S.text({ default: '', 'x-no-trim': true })),
  auth_type: S.enumOf(AUTH_TYPES, { default: 'basic' }),
  verify_only: S.bool({
    default: false,
    description:
      'When enabled, the Phone number is only used during enrollment to verify the users authenticity. Only a hash of the phone number is saved to ensure it is not reused in the future.',
  }),
  // a webhook mapping: the generic webhook's body, or Twilio's text (src/mfa/sms/send-code.ts); set to null when the
  // mapping is deleted (src/stages/registry.ts stageColumnReferences)
  mapping: S.fk(
    { table: 'property_mappings', column: 'pm_uuid', kind: 'notificationwebhookmapping' },
    { default: null, description: 'Optionally modify the payload being sent to custom providers.' },
  ),
};

export const authenticatorSmsSchema = {
  kind: 'authenticatorsmsstage',
  app: 'authentik_stages_authenticator_sms',
  model: 'AuthenticatorSMSStage',
  path: 'authenticator/sms',
  table: 'stage_authenticator_sms',
  component: 'ak-stage-authenticator-sms-form',
  verboseName: 'SMS Authenticator Setup Stage',
  verboseNamePlural: 'SMS Authenticator Setup Stages',
  description: 'Use SMS-based TOTP instead of authenticator-based.',
  fields,
  // authentik: `filterset_fields = "__all__"`
  filters: { stage_uuid: uuidFilter, ...fieldFilters('stage_authenticator_sms', fields) },
  migrations: {
    stage_authenticator_sms_0001: (dialect) => ({
      async up(db) {
        await createStageTable(db, dialect, 'stage_authenticator_sms', {
          configure_flow: fk('flows', 'flow_uuid'),
          friendly_name: 'text',
          provider: 'text',
          from_number: 'text',
          account_sid: 'text',
          auth: 'text',
          auth_password: 'text',
          auth_type: 'text',
          verify_only: 'bool',
          mapping: { type: 'uuid' },
        });
        await createSideChannelDeviceTable(db, dialect, 'sms_devices', 'phone_number');
      },
    }),
  },
} satisfies StageDef;
