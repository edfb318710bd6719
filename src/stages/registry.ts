/** The one list of stage types. Adding a type: its folder under src/stages/, and one line here. */
import type { StageDef } from './types.js';
import type { SecretColumn } from '../instance/secrets.js';
import type { ColumnReference } from '../rest/references.js';
import type { ChallengeDef } from '../flows/engine/challenge-types.js';
import { secretColumns } from './resource.js';
import { identificationStage } from './identification/index.js';
import { captchaStage } from './captcha/index.js';
import { passwordStage } from './password/index.js';
import { authenticatorValidateStage } from './authenticator_validate/index.js';
import { userLoginStage } from './user_login/index.js';
import { denyStage } from './deny/index.js';
import { dummyStage } from './dummy/index.js';
import { userLogoutStage } from './user_logout/index.js';
import { authenticatorTotpStage } from './authenticator_totp/index.js';
import { authenticatorStaticStage } from './authenticator_static/index.js';
import { authenticatorWebauthnStage } from './authenticator_webauthn/index.js';
import { authenticatorEmailStage } from './authenticator_email/index.js';
import { authenticatorSmsStage } from './authenticator_sms/index.js';
import { authenticatorDuoStage } from './authenticator_duo/index.js';
import { consentStage } from './consent/index.js';
import { promptStage } from './prompt/index.js';
import { userWriteStage } from './user_write/index.js';
import { emailStage } from './email/index.js';
import { invitationStage } from './invitation/index.js';
import { userDeleteStage } from './user_delete/index.js';
import { redirectStage } from './redirect/index.js';
import { accountLockdownStage } from './account_lockdown/index.js';
import { mtlsStage } from './mtls/index.js';
import { sourceStage } from './source/index.js';

export const stageTypes: StageDef[] = [
  identificationStage,
  captchaStage,
  passwordStage,
  // challenges belong in authenticator_validate/index.ts (set here until that folder's refactoring is merged)
  authenticatorValidateStage,
  userLoginStage,
  denyStage,
  dummyStage,
  userLogoutStage,
  authenticatorTotpStage,
  authenticatorStaticStage,
  authenticatorWebauthnStage,
  authenticatorEmailStage,
  authenticatorSmsStage,
  authenticatorDuoStage,
  consentStage,
  promptStage,
  userWriteStage,
  emailStage,
  invitationStage,
  userDeleteStage,
  redirectStage,
  accountLockdownStage,
  mtlsStage,
  sourceStage,
];

const byKind = new Map(stageTypes.map((d) => [d.kind, d]));
export const stageTypeByKind = (kind: string) => byKind.get(kind);
export const stageKinds = () => [...byKind.keys()];

/** every stage type's challenge components (the executor adds its shared ones) */
export const stageChallenges = (): ChallengeDef[] => stageTypes.flatMap((d) => d.challenges ?? []);

export function stageMigrations() {
  return Object.assign({}, ...stageTypes.map((d) => d.migrations));
}

/** every stage type's secret columns (write-only fields), stored encrypted */
export function stageSecretColumns(): SecretColumn[] {
  return stageTypes.flatMap((d) => secretColumns(d).map((column) => ({ table: d.table, pk: 'stage_uuid', column })));
}

/**
 * every stage type's columns referencing rows of `table` other than stages and flows (an SMS stage's `mapping` →
 * property_mappings): the referenced rows' used_by, and set to null when one is deleted
 */
/** stage columns holding a JSON list of `table`'s keys (the identification stage's `sources`): emptied of a deleted row's key */
export function stageJsonListReferences(table: string): { table: string; column: string; pk: string }[] {
  return stageTypes.flatMap((d) =>
    Object.entries(d.fields)
      .filter(([, s]) => (s['x-m2m'] as { table?: string } | undefined)?.table === table && !s['x-m2m-table'])
      .map(([column]) => ({ table: d.table, column, pk: 'stage_uuid' })),
  );
}

/** the stages' many-to-many links to rows of `table` (a mutual TLS stage's authorities → key pairs): used_by and deletion */
export function stageM2mReferences(table: string): ColumnReference[] {
  return stageTypes.flatMap((d) =>
    Object.values(d.m2m ?? {})
      .filter((m) => m.target.table === table)
      .map((m) => ({
        table: m.table,
        column: 'target',
        pk: 'stage_uuid',
        name: 'name',
        nameFrom: { table: 'stages', key: 'stage_uuid' },
        app: d.app,
        model_name: d.kind,
        action: 'cascade_many' as const,
      })),
  );
}

export function stageColumnReferences(table: string): ColumnReference[] {
  return stageTypes.flatMap((d) =>
    Object.entries(d.fields)
      .filter(([, s]) => (s['x-ref'] as { table?: string } | undefined)?.table === table)
      .map(([column, s]) => ({
        table: d.table,
        column,
        pk: 'stage_uuid',
        name: 'name',
        nameFrom: { table: 'stages', key: 'stage_uuid' },
        app: d.app,
        model_name: d.kind,
        // a required reference (`nullable: false`) takes the stage with it (authentik's on_delete=CASCADE)
        action: s.nullable === false ? ('cascade' as const) : ('set_null' as const),
      })),
  );
}
