import { Type } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { createJunctionTable, createStageTable, fk } from '../../db/ddl.js';
import type { DB } from '../../db/index.js';
import { m2mExists } from '../resource.js';
import type { StageDef } from '../types.js';
import { USER_VERIFICATION, WEBAUTHN_HINTS } from '../authenticator_validate/index.js';

const flowRef = { table: 'flows', column: 'flow_uuid' };
const deviceTypes = { table: 'stage_authenticator_webauthn_device_types', target: { table: 'webauthn_device_types', column: 'aaguid' } };
export const ATTACHMENTS = ['platform', 'cross-platform'] as const;

export const authenticatorWebauthnSchema = {
  kind: 'authenticatorwebauthnstage',
  app: 'authentik_stages_authenticator_webauthn',
  model: 'AuthenticatorWebAuthnStage',
  path: 'authenticator/webauthn',
  table: 'stage_authenticator_webauthn',
  component: 'ak-stage-authenticator-webauthn-form',
  verboseName: 'WebAuthn Authenticator Setup Stage',
  verboseNamePlural: 'WebAuthn Authenticator Setup Stages',
  description: 'Setup WebAuthn-based authentication for the user.',
  fields: {
    configure_flow: S.fk(flowRef, { default: null }),
    friendly_name: S.text({ default: '', 'x-null-as': '' }),
    user_verification: S.enumOf(USER_VERIFICATION, { default: 'preferred' }),
    authenticator_attachment: S.nullable(S.enumOf(ATTACHMENTS, { default: null })),
    resident_key_requirement: S.enumOf(USER_VERIFICATION, { default: 'preferred' }),
    hints: S.list(S.enumOf(WEBAUTHN_HINTS), { default: [] }),
    device_type_restrictions: S.m2m(deviceTypes.target, { default: [], 'x-m2m-table': true }),
    device_type_restrictions_obj: S.ro(
      Type.Array(Type.Unsafe({ $ref: '#/components/schemas/WebAuthnDeviceType' }), { 'x-computed': true }),
    ),
    max_attempts: S.int({ default: 0, minimum: 0 }),
  },
  m2m: { device_type_restrictions: deviceTypes },
  filters: {
    configure_flow: { type: 'fk', column: 't.configure_flow', ref: flowRef },
    user_verification: { type: 'enum', column: 't.user_verification', values: USER_VERIFICATION },
    authenticator_attachment: { type: 'enum', column: 't.authenticator_attachment', values: ATTACHMENTS },
    resident_key_requirement: { type: 'enum', column: 't.resident_key_requirement', values: USER_VERIFICATION },
    device_type_restrictions: { type: 'm2m', ref: deviceTypes.target, exists: m2mExists(deviceTypes) },
    max_attempts: { type: 'int', column: 't.max_attempts' },
  },
  async renderExtra(db: DB, out: Record<string, unknown>[]) {
    const all = [...new Set(out.flatMap((o) => o.device_type_restrictions as string[]))];
    const types = all.length
      ? await db.selectFrom('webauthn_device_types').select(['aaguid', 'description']).where('aaguid', 'in', all).execute()
      : [];
    const byId = new Map(types.map((t) => [t.aaguid, t]));
    for (const o of out) o.device_type_restrictions_obj = (o.device_type_restrictions as string[]).map((a) => byId.get(a)).filter(Boolean);
  },
  migrations: {
    stage_authenticator_webauthn_0001: (dialect) => ({
      async up(db) {
        await createStageTable(db, dialect, 'stage_authenticator_webauthn', {
          configure_flow: fk('flows', 'flow_uuid'),
          friendly_name: 'text',
          user_verification: 'text',
          authenticator_attachment: { type: 'text' },
          resident_key_requirement: 'text',
          hints: 'json',
          max_attempts: 'int',
        });
        await createJunctionTable(db, deviceTypes.table, deviceTypes.target);
      },
    }),
  },
} satisfies StageDef;
