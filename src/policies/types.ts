/**
 * What a policy type supplies (`PolicyDef`) and what it is asked (`PolicyRequest`). The policy engine, the REST
 * resources and the flow planner know policy types only through this interface.
 */
import type { Static } from '@sinclair/typebox';
import type { FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { WriteCtx } from '../rest/resource.js';
import type { VersionedMigration } from '../db/ddl.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../services.js';
import type { ApiRouter } from '../rest/routes.js';
import type { ContextChanges } from '../expressions/index.js';

/** authentik's PolicyRequest: who, from where, about what, with which flow context */
export interface PolicyRequest {
  /** the pending user, else the logged-in user; undefined: anonymous */
  user: UsersTable | undefined;
  /** `host`: the host as Fastify resolved it (X-Forwarded-Host only from a trusted proxy), which picks the brand */
  http?: { path: string; method: string; headers: Record<string, string>; clientIp: string; query: Record<string, string>; host: string };
  /** the object the policies are bound to (a flow, a flow-stage binding, an application), as authentik names it */
  obj?: { app: string; model_name: string; pk: string; name: string; slug?: string };
  /** the flow plan's context in authentik's names (`pending_user`, `auth_method`, `prompt_data`, `flow_plan`, …) */
  context: Record<string, unknown>;
  /** an explanation or a test: no side effects (events, reputation) */
  debug: boolean;
  /**
   * told what an expression changed in the flow context (authentik's policies write `context["flow_plan"].context`,
   * and change `prompt_data` in place): the flow engine applies it to the plan (flows/engine/policy-writes.ts)
   */
  onContextChanges?: (changes: ContextChanges) => void;
}

export type { LogEvent } from '../events/log-event.js';
import type { LogEvent } from '../events/log-event.js';

export interface PolicyResult {
  passing: boolean;
  messages: string[];
  /** what an expression logged (`ak_logger`), shown by the test endpoint */
  log?: LogEvent[];
}

export interface PolicyCall<C> {
  svc: Services;
  policy: { uuid: string; name: string; kind: string };
  config: C;
  request: PolicyRequest;
  /** milliseconds left before the binding's timeout; a type that waits (network, a sandbox) stops by then */
  timeoutMs: number;
}

export interface PolicyDef {
  /** lowercase model name, stored in policies.kind: `dummypolicy` */
  kind: string;
  /** Django app label: `authentik_policies_dummy` */
  app: string;
  /** model class name (404 bodies, OpenAPI component): `DummyPolicy` */
  model: string;
  /** URL segment under /policies/: `dummy`, `password_expiry` */
  path: string;
  /** the type's own settings table, keyed by policy_uuid */
  table: string;
  /** admin form component: `ak-policy-dummy-form` */
  component: string;
  verboseName: string;
  verboseNamePlural: string;
  /** authentik's model docstring, listed by /policies/all/types/ */
  description: string;
  requiresEnterprise?: boolean;
  /** type-specific fields; the base ones (pk, name, execution_logging, component, …, bound_to) are added */
  fields: Props;
  filters?: Record<string, FilterSpec>;
  /** object-level validation (after field validation) */
  validate?(data: Record<string, unknown>, ctx: WriteCtx, existing?: Record<string, unknown>): Promise<void> | void;
  migrations: Record<string, VersionedMigration>;
  /** read-only fields the type computes from its stored ones (GeoIP's `countries_obj`), set on each API object */
  present?(o: Record<string, unknown>): void;
  /** routes of the type's own beyond its resource (reputation's /policies/reputation/scores/), mounted with it */
  routes?(router: ApiRouter, svc: Services): void;
  /** decides; throwing means the policy failed to run (the binding's failure_result applies) */
  evaluate(call: PolicyCall<any>): Promise<PolicyResult>;
  /**
   * True when, with this configuration, `evaluate` reads nothing but `request.context` and `request.http` (not
   * `request.user`, not the pending user's stored fields): the engine then evaluates it without looking the user up
   * (PolicyCheck.full). Absent means the full request is needed.
   */
  contextOnly?(config: any): boolean;
  /**
   * The prompt field this policy checks, with this configuration (the password policy's `password_field`): a prompt
   * stage shows its messages under that field
   */
  promptField?(config: any): string | undefined;
}

/** A policy's configuration as its `evaluate` reads it: the base fields and its own, typed from its field schemas. */
export type PolicyConfig<D extends { fields: Props }> = { pk: string; name: string; execution_logging: boolean } & {
  -readonly [K in keyof D['fields']]: Static<D['fields'][K]>;
};
