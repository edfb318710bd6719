/**
 * What a provider type supplies (`ProviderDef`). The provider REST resources (resource.ts, all.ts), applications
 * (launch URLs) and the server know provider types only through this interface.
 */
import type { Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import type { FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { WriteCtx } from '../rest/resource.js';
import type { VersionedMigration } from '../db/ddl.js';
import type { Services } from '../services.js';
import type { ApiRouter } from '../rest/routes.js';
import type { DB } from '../db/index.js';
import type { StageType } from '../flows/engine/runtime.js';
import type { ChallengeDef } from '../flows/engine/challenge-types.js';
import type { SecretColumn } from '../instance/secrets.js';

/**
 * A stage a provider puts into flow plans itself (authentik's `in_memory_stage`: OAuthDeviceCodeStage, …): no row,
 * no binding of its own; its configuration is its name. Its browser view is `src/providers/<type>/stages/<name>/ui.ts`.
 */
export interface ProviderStage extends StageType {
  challenges: ChallengeDef[];
}

/** a provider's base row and its own settings as the type's hooks read them (secrets still sealed) */
export type ProviderRow = Record<string, unknown> & { id: number; name: string; kind: string };

export interface ProviderDef {
  /** lowercase model name, stored in providers.kind: `oauth2provider` */
  kind: string;
  /** Django app label: `authentik_providers_oauth2` */
  app: string;
  /** model class name (404 bodies, OpenAPI component): `OAuth2Provider` */
  model: string;
  /** URL segment under /providers/: `oauth2` */
  path: string;
  /** the type's own settings table, keyed by `provider_id` */
  table: string;
  /** admin form component: `ak-provider-oauth2-form` */
  component: string;
  verboseName: string;
  verboseNamePlural: string;
  /** authentik's model docstring, listed by /providers/all/types/ */
  description: string;
  /** how authentik names a provider of this type (its `__str__`), e.g. in used_by */
  describe?(name: string): string;
  /** icon of /providers/all/types/ */
  iconUrl?: string;
  requiresEnterprise?: boolean;
  /** the type's permissions beyond the four defaults (authentik's Meta.permissions): [codename, name] */
  permissions?: readonly (readonly [string, string])[];
  /** type-specific fields; the base ones (pk, name, flows, property_mappings, component, assigned_*) are added */
  fields: Props;
  /**
   * a backchannel provider only (authentik's BackchannelProvider: SCIM): no flows and no `assigned_application_*` in its
   * serializer, as it is never an application's main provider
   */
  backchannelOnly?: boolean;
  /** base fields the type's serializer does not have (the SSF provider: no property mappings, no backchannel application fields) */
  omitBase?: string[];
  /** the type's writes beyond its own table (link tables of its own fields marked `x-m2m-table`), in the write's transaction */
  writeMore?(tx: import('../rest/resource.js').Tx, id: number, data: Record<string, unknown>, ctx: WriteCtx): Promise<void>;
  /** after a create's or update's transaction committed (the SCIM provider's sync on save) */
  afterWrite?(svc: Services, id: number): Promise<void>;
  /** in the deletion's transaction, before the provider's row goes: what the cascade would leave behind (policy bindings of its objects) */
  removeMore?(tx: import('../rest/resource.js').Tx, id: number): Promise<void>;
  /** the user a bearer credential this type issued stands for, when it opens the API (rest/auth.ts `acceptBearer`) */
  apiBearer?: import('../rest/auth.js').BearerLookup;
  /** the type's own objects deleted with the provider, for `used_by` */
  usedByMore?(db: DB, id: number): Promise<import('../rest/resource.js').UsedBy[]>;
  /** field values decided at create time when the client sent none (client_id, client_secret) */
  generate?: Record<string, () => unknown>;
  filters?: Record<string, FilterSpec>;
  /** columns of the type's table referencing certificate-key pairs (set to null when the pair is deleted; its used_by) */
  keyPairColumns?: string[];
  /** write-only and sealed-at-rest columns of the type's table (src/instance/secrets.ts) */
  secretColumns?: string[];
  /** sealed-at-rest columns of the type's other tables (an SSF stream's push authorization header) */
  moreSecretColumns?: SecretColumn[];
  /** base fields the type requires although the base model allows null (OAuth2: `authorization_flow`, `invalidation_flow`) */
  requiredBase?: string[];
  /** object-level validation (after field validation) */
  validate?(data: Record<string, unknown>, ctx: WriteCtx, existing?: Record<string, unknown>): Promise<void> | void;
  migrations: Record<string, VersionedMigration>;
  /** routes of the type's own beyond its resource (its protocol endpoints, `setup_urls`, …), mounted with it */
  routes?(router: ApiRouter, svc: Services): void;
  /**
   * computed read-only fields of a rendered provider (the SAML provider's URLs), from its rendered fields; `db` is the
   * render's (inside a blueprint's transaction, that transaction: never read through svc.db there)
   */
  renderMore?(
    svc: Services,
    rendered: Record<string, unknown>,
    req: FastifyRequest,
    db: DB,
  ): Promise<Record<string, unknown>> | Record<string, unknown>;
  /** what the type needs at every start (authentik's system blueprints: its managed property mappings) */
  atStart?(db: DB): Promise<void>;
  /** the launch URL an application with this provider gets when it has no meta_launch_url (authentik's Provider.launch_url) */
  launchUrl?(db: DB, provider: ProviderRow): Promise<string | null> | string | null;
  /** in-memory stages the type's protocol inserts into flow plans */
  stages?: ProviderStage[];
  /**
   * tables of what the type has granted users (codes, access and refresh tokens), each with a `user_id` column: an
   * account lockdown deletes a user's rows (src/users/lockdown.ts)
   */
  userGrantTables?: string[];
  /**
   * the type's objects past their expiry deleted, by authentik's hourly `clean_expired_models` (src/tasks/
   * clean-expired-models.ts): how many of each kind went (a Shared Signals provider's sent events)
   */
  purgeExpired?(db: DB): Promise<Record<string, number>>;
}

/** A provider's settings as its hooks read them: the base fields and its own, typed from its field schemas. */
export type ProviderConfig<D extends { fields: Props }> = { pk: number; name: string } & {
  -readonly [K in keyof D['fields']]: Static<D['fields'][K]>;
};
