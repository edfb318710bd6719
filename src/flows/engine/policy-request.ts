/**
 * What the flow engine tells the policy engine: the request (who, from where, about which object) and the plan's
 * context in authentik's names, so policies written for authentik read the same keys (`pending_user`,
 * `auth_method`, `flow_plan`, …). The pending user carries `backend` once a password or passkey proved them, as
 * authentik's `user.backend` (what its default password-stage policy looks for).
 */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import type { FlowsTable, UsersTable } from '../../db/types.js';
import type { PolicyRequest } from '../../policies/types.js';
import { httpOf, policyUser } from '../../policies/request.js';
import { userById } from '../../users/by-id.js';
import { isPlaceholder, type FlowContext } from './context.js';
import type { ContextChanges } from '../../expressions/index.js';
import { applyPolicyWrites, policyData } from './policy-writes.js';

/** the user policies are about: the pending user (a real one), else whoever is logged in; a placeholder is nobody */
export async function policyUserOf(db: DB, ctx: FlowContext, loggedIn: UsersTable | undefined): Promise<UsersTable | undefined> {
  const p = ctx.pendingUser;
  if (p && !isPlaceholder(p)) return userById(db, p.id!);
  if (p) return undefined;
  return loggedIn;
}

/** the plan's context in authentik's names; `planned` adds `flow_plan` (stage bindings see the plan, flows do not) */
export function policyContext(
  ctx: FlowContext,
  pending: UsersTable | undefined,
  planned?: { flow: FlowsTable; bindings: readonly { stage_uuid: string }[] },
  /** the pending user as the plan knows them, not looked up (see `lazyRequest`) */
  light = false,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (ctx.pendingUser) {
    const proven = ctx.userBackend && !isPlaceholder(ctx.pendingUser) ? { backend: ctx.userBackend } : {};
    out.pending_user = pending
      ? policyUser(pending, proven)
      : {
          pk: light && !isPlaceholder(ctx.pendingUser) ? ctx.pendingUser.id : null,
          ...(light ? proven : {}),
          username: ctx.pendingUser.username,
          email: ctx.pendingUser.email,
          name: ctx.pendingUser.name,
          is_active: false,
          attributes: {},
        };
  }
  if (ctx.authMethod !== undefined) out.auth_method = ctx.authMethod;
  if (ctx.authMethodArgs !== undefined) out.auth_method_args = ctx.authMethodArgs;
  if (ctx.userBackend !== undefined) out.user_backend = ctx.userBackend;
  if (ctx.redirect !== undefined) out.redirect = ctx.redirect;
  if (ctx.captcha !== undefined) out.captcha = ctx.captcha;
  if (ctx.application !== undefined) out.application = ctx.application;
  for (const k of ['consent_title', 'consent_header', 'consent_permissions', 'consent_additional_permissions'] as const)
    if (ctx[k] !== undefined) out[k] = ctx[k];
  if (ctx.promptData !== undefined) out.prompt_data = ctx.promptData;
  if (ctx.restoredToken !== undefined) out.is_restored = true;
  if (ctx.invitation !== undefined) {
    out.invitation = ctx.invitation;
    out.invitation_in_effect = true;
  }
  if (ctx.isRedirected !== undefined) out.is_redirected = ctx.isRedirected;
  if (ctx.certificate !== undefined) out.certificate = ctx.certificate;
  if (ctx.sourceMatchFailure !== undefined) out.source_match_failure = ctx.sourceMatchFailure;
  if (ctx.source !== undefined) {
    out.source = ctx.source;
    out.is_sso = true;
  }
  if (ctx.sourcePolicyContext !== undefined) for (const [k, v] of Object.entries(ctx.sourcePolicyContext)) if (!(k in out)) out[k] = v;
  if (ctx.redirectStageTarget !== undefined) out.redirect_stage_target = ctx.redirectStageTarget;
  // keys policies wrote that Keystage does not read itself, for the policies after them
  if (ctx.policyData !== undefined) for (const [k, v] of policyData(ctx)) if (!(k in out)) out[k] = v;
  if (planned)
    out.flow_plan = {
      flow_pk: planned.flow.flow_uuid,
      bindings: planned.bindings.map((b) => b.stage_uuid),
      context: { ...out },
    };
  return out;
}

/**
 * A policy check's request as the plan knows it — the pending user from the plan, nobody looked up — and the complete
 * one (the pending user's stored row, else the logged-in user), which the policy engine fetches only when a binding
 * needs it (PolicyCheck.full): authentik's default flow's expressions read the plan's context alone.
 */
export function lazyRequest(
  ctx: FlowContext,
  person: () => Promise<UsersTable | undefined>,
  planned: { flow: FlowsTable; bindings: readonly { stage_uuid: string }[] } | undefined,
  obj: PolicyRequest['obj'],
  req: FastifyRequest | undefined,
  debug = false,
): { request: PolicyRequest; full: () => Promise<PolicyRequest> } {
  // what an expression writes into the flow context lands in this plan's (policy-writes.ts)
  const writes = (changes: ContextChanges) => applyPolicyWrites(ctx, changes);
  return {
    request: requestOf(undefined, policyContext(ctx, undefined, planned, true), obj, req, debug, writes),
    full: async () => {
      const u = await person();
      return requestOf(u, policyContext(ctx, u, planned), obj, req, debug, writes);
    },
  };
}

export function flowObject(flow: FlowsTable): NonNullable<PolicyRequest['obj']> {
  return { app: 'authentik_flows', model_name: 'flow', pk: flow.flow_uuid, name: `Flow ${flow.name} (${flow.slug})` };
}

export function requestOf(
  user: UsersTable | undefined,
  context: Record<string, unknown>,
  obj: PolicyRequest['obj'],
  req: FastifyRequest | undefined,
  debug = false,
  onContextChanges?: PolicyRequest['onContextChanges'],
): PolicyRequest {
  return req
    ? new FlowPolicyRequest(user, context, obj, debug, req, onContextChanges)
    : { user, context, obj, debug, ...(onContextChanges ? { onContextChanges } : {}) };
}

/**
 * A policy request with the HTTP request behind it, as policies see it (`http`), built the first time one reads it
 * (authentik's defaults never do). The getter is the class's: one defined on each object gives every object a hidden
 * class of its own in V8, allocated in the old generation, and those, dead, kept each request's objects alive through
 * scavenges (bench/RESULTS.md, eighteenth session). A spread does not copy it: name `http` when copying a request.
 */
class FlowPolicyRequest implements PolicyRequest {
  readonly #req: FastifyRequest;
  #http: PolicyRequest['http'];
  constructor(
    readonly user: UsersTable | undefined,
    readonly context: Record<string, unknown>,
    readonly obj: PolicyRequest['obj'],
    readonly debug: boolean,
    req: FastifyRequest,
    readonly onContextChanges: PolicyRequest['onContextChanges'],
  ) {
    this.#req = req;
  }

  get http(): PolicyRequest['http'] {
    return (this.#http ??= httpOf(this.#req));
  }
}
