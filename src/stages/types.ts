/** What a stage type supplies. The engine and the API know stage types only through this interface. */
import type { FastifyRequest } from 'fastify';
import type { FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { Static } from '@sinclair/typebox';
import type { WriteCtx } from '../rest/resource.js';
import type { VersionedMigration } from '../db/ddl.js';
import type { StageRuntime } from '../flows/engine/runtime.js';
import type { ChallengeDef } from '../flows/engine/challenge-types.js';

export interface M2M {
  /** junction table: (stage_uuid, target, position) */
  table: string;
  target: { table: string; column: string; kind?: string };
}

export interface StageDef {
  /** lowercase model name, stored in stages.kind: `identificationstage` */
  kind: string;
  /** Django app label: `authentik_stages_identification` */
  app: string;
  /** model class name, used in 404 bodies: `IdentificationStage` */
  model: string;
  /** OpenAPI component name when it differs from `model` (e.g. AuthenticatorTOTPStage) */
  componentName?: string;
  /** URL segment under /stages/: `identification`, `authenticator/validate` */
  path: string;
  table: string;
  /** admin form component */
  component: string;
  verboseName: string;
  verboseNamePlural: string;
  description: string;
  /** type-specific fields; the base fields (pk, name, component, …, flow_set) are added by the framework */
  fields: Props;
  m2m?: Record<string, M2M>;
  filters?: Record<string, FilterSpec>;
  /** object-level validation (after field validation) */
  validate?(data: Record<string, unknown>, ctx: WriteCtx, existing?: Record<string, unknown>): Promise<void> | void;
  migrations: Record<string, VersionedMigration>;
  /** adds computed fields (e.g. `*_obj` expansions) to rendered objects */
  renderExtra?(db: import('../db/index.js').DB, out: Record<string, unknown>[]): Promise<void>;
  /** how the stage runs inside a flow */
  runtime?: StageRuntime;
  /**
   * the challenge components the runtime serves, each with its response body (the stage's challenge.ts); the
   * executor publishes them in the `ChallengeTypes` / `FlowChallengeResponseRequest` unions
   */
  challenges?: ChallengeDef[];
  /** extra API actions of this type (e.g. Duo's import_device_manual) */
  routes?(
    router: import('../rest/routes.js').ApiRouter,
    db: import('../db/index.js').DB,
    svc: import('../flows/engine/runtime.js').Services,
  ): void;
  /** listed by /stages/all/types/ (false for debug-only types) */
  listed?: boolean;
  /**
   * what the user page offers for stages of this type (authentik's `ui_user_settings`), listed by
   * /stages/all/user_settings/: its component, titled by the stage's `friendly_name` or the type's verbose name,
   * with the stage's `configure_flow` as `configure_url`; `needsConfigureFlow`: only stages that have one are listed
   */
  userSetting?: { component: string; needsConfigureFlow?: boolean };
}

export type { FastifyRequest };

/**
 * A stage's configuration as its runtime reads it (`loadStageConfig`): the base fields and its own, typed from its
 * field schemas, so a field is written once (schema.ts) and not again as an interface.
 */
export type StageConfig<D extends { fields: Props }> = { pk: string; name: string } & {
  -readonly [K in keyof D['fields']]: Static<D['fields'][K]>;
};
