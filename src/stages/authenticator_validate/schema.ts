import type { DeviceChallenge } from '../../flows/engine/context.js';
import type { PasskeyState } from './passkey.js';
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { S } from '../../rest/schema.js';
import { ValidationError } from '../../rest/errors.js';
import { createJunctionTable, createStageTable } from '../../db/ddl.js';
import type { DB } from '../../db/index.js';
import { m2mExists } from '../resource.js';
import type { StageDef } from '../types.js';
import { DEVICE_CLASSES } from '../../mfa/registry.js';
import type { StageConfig } from '../types.js';

export const NOT_CONFIGURED_ACTIONS = ['skip', 'deny', 'configure'] as const;
export const USER_VERIFICATION = ['required', 'preferred', 'discouraged'] as const;
export const WEBAUTHN_HINTS = ['security-key', 'client-device', 'hybrid'] as const;

/** a validation stage's settings, as its challenge and response logic read them */
/** the stage's settings as its runtime reads them (typed from schema.ts) */
export type ValidateConfig = StageConfig<typeof authenticatorValidateSchema>;

const configurationStages = {
  table: 'stage_authenticator_validate_configuration_stages',
  target: { table: 'stages', column: 'stage_uuid' },
};
const deviceTypes = { table: 'stage_authenticator_validate_device_types', target: { table: 'webauthn_device_types', column: 'aaguid' } };

export const authenticatorValidateSchema = {
  kind: 'authenticatorvalidatestage',
  app: 'authentik_stages_authenticator_validate',
  model: 'AuthenticatorValidateStage',
  path: 'authenticator/validate',
  table: 'stage_authenticator_validate',
  component: 'ak-stage-authenticator-validate-form',
  verboseName: 'Authenticator Validation Stage',
  verboseNamePlural: 'Authenticator Validation Stages',
  description: "Validate user's configured Multi Factor Authentication.",
  fields: {
    not_configured_action: S.enumOf(NOT_CONFIGURED_ACTIONS, { default: 'skip' }),
    device_classes: S.list(S.enumOf(DEVICE_CLASSES), {
      default: [...DEVICE_CLASSES],
      'x-allow-empty': false,
      description: 'Device classes which can be used to authenticate',
    }),
    configuration_stages: S.m2m(configurationStages.target, {
      default: [],
      'x-m2m-table': true,
      description:
        "Stages used to configure Authenticator when user doesn't have any compatible devices. After this configuration Stage passes, the user is not prompted again.",
    }),
    last_auth_threshold: S.duration({
      default: 'seconds=0',
      description: "If any of the user's device has been used within this threshold, this stage will be skipped",
    }),
    webauthn_user_verification: S.enumOf(USER_VERIFICATION, {
      default: 'preferred',
      description: 'Enforce user verification for WebAuthn devices.',
    }),
    webauthn_hints: S.list(S.enumOf(WEBAUTHN_HINTS), { default: [] }),
    webauthn_allowed_device_types: S.m2m(deviceTypes.target, { default: [], 'x-m2m-table': true }),
    webauthn_allowed_device_types_obj: S.ro(
      Type.Array(Type.Unsafe({ $ref: '#/components/schemas/WebAuthnDeviceType' }), { 'x-computed': true }),
    ),
    email_otp_throttling_factor: S.float({ default: 1 }),
    sms_otp_throttling_factor: S.float({ default: 1 }),
    totp_otp_throttling_factor: S.float({ default: 1 }),
    static_otp_throttling_factor: S.float({ default: 1 }),
  },
  m2m: {
    configuration_stages: configurationStages,
    webauthn_allowed_device_types: deviceTypes,
  },
  filters: {
    not_configured_action: { type: 'enum', column: 't.not_configured_action', values: NOT_CONFIGURED_ACTIONS },
    configuration_stages: { type: 'm2m', ref: configurationStages.target, exists: m2mExists(configurationStages) },
  },
  /** `configure` needs at least one configuration stage (checked against the stored list merged with the request) */
  async validate(data, ctx, existing) {
    const action = (data.not_configured_action ?? existing?.not_configured_action) as string | undefined;
    if (action !== 'configure') return;
    let stages = data.configuration_stages as string[] | undefined;
    if (stages === undefined && existing) {
      const rows = await ctx.db
        .selectFrom(configurationStages.table as 'stages')
        .select('stage_uuid')
        .where('stage_uuid', '=', String(existing.stage_uuid))
        .execute();
      stages = rows.map((r) => r.stage_uuid);
    }
    if (!stages || stages.length === 0)
      throw ValidationError.field(
        'not_configured_action',
        'When "Not configured action" is set to "Configure", you must set a configuration stage.',
      );
  },
  async renderExtra(db: DB, out: Record<string, unknown>[]) {
    const all = [...new Set(out.flatMap((o) => o.webauthn_allowed_device_types as string[]))];
    const types = all.length
      ? await db.selectFrom('webauthn_device_types').select(['aaguid', 'description']).where('aaguid', 'in', all).execute()
      : [];
    const byId = new Map(types.map((t) => [t.aaguid, t]));
    for (const o of out)
      o.webauthn_allowed_device_types_obj = (o.webauthn_allowed_device_types as string[]).map((a) => byId.get(a)).filter(Boolean);
  },
  migrations: {
    stage_authenticator_validate_0001: (dialect) => ({
      async up(db: Kysely<any>) {
        await createStageTable(db, dialect, 'stage_authenticator_validate', {
          not_configured_action: 'text',
          device_classes: 'json',
          last_auth_threshold: 'text',
          webauthn_user_verification: 'text',
          webauthn_hints: 'json',
          email_otp_throttling_factor: 'float',
          sms_otp_throttling_factor: 'float',
          totp_otp_throttling_factor: 'float',
          static_otp_throttling_factor: 'float',
        });
        for (const m of [configurationStages, deviceTypes]) await createJunctionTable(db, m.table, m.target);
      },
    }),
  },
} satisfies StageDef;

/**
 * What the stage keeps between requests of one plan: the challenges offered on its last render (a response counts
 * only against these), the setup stages offered, and the WebAuthn challenge issued.
 */
export interface ValidateState extends PasskeyState {
  challenges?: DeviceChallenge[];
  stages?: string[];
}
