/**
 * The policy engine (authentik's PolicyEngine): does a policy-binding target pass for a request? Every enabled
 * binding of the target is evaluated — a policy by its type, a group by membership (inherited from child groups),
 * a user by identity — `negate` flips a result (messages are unaffected), and the target's mode combines them:
 * `all` must pass, or `any`. No bindings: passing. A policy that throws or outlives the binding's timeout yields the
 * binding's `failure_result` (default false) — never a silent pass — and is recorded as a `policy_exception` event.
 * An expiring binding whose time has come counts as absent (bindings/expiry.ts), checked at each evaluation.
 */
import type { DB } from '../../db/index.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import type { Services } from '../../services.js';
import { loadPolicyConfig } from '../resource.js';
import type { PolicyDef, PolicyRequest, PolicyResult, LogEvent } from '../types.js';
import { isMember } from './membership.js';
import { eventRequestOf } from '../request.js';
import { expiryOf, liveBindings } from '../bindings/expiry.js';

export interface PolicyCheck {
  /** the target's pbm_uuid */
  target: string;
  mode: 'any' | 'all';
  request: PolicyRequest;
  /**
   * When `request` was built without looking anyone up (no `user`, the pending user as the plan knows it): the
   * complete request, fetched at most once and only if a binding needs it — a group or user binding, a policy type
   * that is not `contextOnly`, execution logging, or an event about a failure.
   */
  full?: () => Promise<PolicyRequest>;
  /** the verdict when the target has no binding (authentik's `empty_result`; default: passing) */
  emptyResult?: boolean;
}

export interface BindingOutcome {
  binding: string;
  order: number;
  /** what is bound: a policy (its name and type), a group (its name) or a user (their username) */
  bound:
    | { type: 'policy'; pk: string; name: string; kind: string }
    | { type: 'group'; pk: string; name: string }
    | { type: 'user'; pk: number; name: string };
  negate: boolean;
  passing: boolean;
  messages: string[];
  /** why the policy failed to run (then `passing` is the binding's failure_result) */
  error?: string;
  log: LogEvent[];
}

export interface PolicyVerdict {
  passing: boolean;
  messages: string[];
  bindings: BindingOutcome[];
}

/** a binding as the engine keeps it (all of them, per target, until the next admin write) */
interface KeptBinding {
  uuid: string;
  target: string;
  order: number;
  policy: string | null;
  policyName: string | null;
  policyKind: string | null;
  group: string | null;
  user: number | null;
  negate: boolean;
  timeout: number;
  failure_result: boolean;
  /** when it stops applying (epoch ms; null: never): an expiring binding, checked at each evaluation */
  expiresAt: number | null;
}

const truthy = (v: unknown) => v === true || v === 1;

/**
 * every enabled binding, by target, in order; one statement per admin write. Expired ones are kept too: the time
 * passes without a write, so `bindingsOf` drops them when asked.
 */
function bindingsByTarget(db: DB): Promise<Map<string, KeptBinding[]>> {
  return cachedAdminData(db, 'policy-bindings', async () => {
    const rows = await db
      .selectFrom('policy_bindings as b')
      .leftJoin('policies as p', 'p.policy_uuid', 'b.policy')
      .select([
        'b.policy_binding_uuid',
        'b.target',
        'b.order',
        'b.policy',
        'p.name as policy_name',
        'p.kind as policy_kind',
        'b.group',
        'b.user',
        'b.negate',
        'b.timeout',
        'b.failure_result',
        'b.expiring',
        'b.expires',
      ])
      .where('b.enabled', '=', 1 as never)
      .orderBy('b.order')
      .orderBy('b.policy_binding_uuid')
      .execute();
    const map = new Map<string, KeptBinding[]>();
    for (const r of rows) {
      const list = map.get(r.target) ?? [];
      list.push({
        uuid: r.policy_binding_uuid,
        target: r.target,
        order: Number(r.order),
        policy: r.policy,
        policyName: r.policy_name,
        policyKind: r.policy_kind,
        group: r.group,
        user: r.user === null ? null : Number(r.user),
        negate: truthy(r.negate),
        timeout: Number(r.timeout),
        failure_result: truthy(r.failure_result),
        expiresAt: expiryOf(r),
      });
      map.set(r.target, list);
    }
    return map;
  });
}

/** the target's bindings that apply now (an expired binding counts as absent: `empty_result` when all have expired) */
async function bindingsOf(db: DB, target: string): Promise<readonly KeptBinding[]> {
  const list = (await bindingsByTarget(db)).get(target);
  return list ? liveBindings(list) : [];
}

/** the longest a binding's policy may run, whatever its timeout says (0 means this) */
const MAX_TIMEOUT_MS = 30_000;

class PolicyTimeout extends Error {
  constructor(seconds: number) {
    super(`Policy execution timed out after ${seconds} seconds`);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, seconds: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new PolicyTimeout(seconds)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

export class PolicyEngine {
  constructor(
    private readonly svc: () => Services,
    private readonly typeOf: (kind: string) => PolicyDef | undefined,
  ) {}

  /** whether a target has any enabled binding that applies now (the planner skips building a request when it has none) */
  async hasBindings(target: string): Promise<boolean> {
    return (await bindingsOf(this.svc().db, target)).length > 0;
  }

  async check(c: PolicyCheck): Promise<PolicyVerdict> {
    const bindings = await bindingsOf(this.svc().db, c.target);
    if (!bindings.length) return { passing: c.emptyResult ?? true, messages: [], bindings: [] };
    // authentik runs them side by side; results are combined in binding order
    const full = c.full ? once(c.full) : async () => c.request;
    const outcomes = await Promise.all(bindings.map((b) => this.evaluateBinding(b, c.request, full)));
    const passing = c.mode === 'all' ? outcomes.every((o) => o.passing) : outcomes.some((o) => o.passing);
    return { passing, messages: outcomes.flatMap((o) => o.messages), bindings: outcomes };
  }

  /** runs one policy on its own (the `test` action and `ak_call_policy`); errors are returned, not thrown */
  async runPolicy(policy: { uuid: string; name: string; kind: string }, request: PolicyRequest, timeoutMs = MAX_TIMEOUT_MS) {
    try {
      const { passing, messages, log } = await this.callPolicy(policy, request, timeoutMs, timeoutMs / 1000);
      return { passing, messages, log, error: undefined };
    } catch (e) {
      return { passing: false, messages: [], log: [], error: (e as Error).message || String(e) };
    }
  }

  /** the prompt field a policy checks, if its type names one (PolicyDef.promptField) */
  async promptField(policy: { uuid: string; kind: string }): Promise<string | undefined> {
    const def = this.typeOf(policy.kind);
    if (!def?.promptField) return undefined;
    const config = await loadPolicyConfig(this.svc().db, def, policy.uuid);
    return config ? def.promptField(config) : undefined;
  }

  /**
   * Runs a policy with `request`, or with `full()` when the policy needs more than the plan's context (`full`
   * absent: `request` is complete). Returns the request it used, for the events.
   */
  private async callPolicy(
    policy: { uuid: string; name: string; kind: string },
    request: PolicyRequest,
    ms: number,
    seconds: number,
    full?: () => Promise<PolicyRequest>,
  ) {
    const def = this.typeOf(policy.kind);
    if (!def) throw new Error(`Policy type ${policy.kind} is not supported`);
    const svc = this.svc();
    const config = await loadPolicyConfig<{ execution_logging?: boolean }>(svc.db, def, policy.uuid);
    if (!config) throw new Error('Policy does not exist');
    // an execution event names the user, so logging needs the full request too
    const used = withPlace(full && !(def.contextOnly?.(config) && !config.execution_logging) ? await full() : request, svc);
    const result: PolicyResult = await withTimeout(def.evaluate({ svc, policy, config, request: used, timeoutMs: ms }), ms, seconds);
    return { passing: result.passing === true, messages: [...(result.messages ?? [])].map(String), log: result.log ?? [], used };
  }

  private async evaluateBinding(b: KeptBinding, light: PolicyRequest, full: () => Promise<PolicyRequest>): Promise<BindingOutcome> {
    const base = { binding: b.uuid, order: b.order, negate: b.negate };
    if (b.policy) {
      const bound = { type: 'policy' as const, pk: b.policy, name: b.policyName ?? '', kind: b.policyKind ?? '' };
      const ms = b.timeout > 0 ? Math.min(b.timeout * 1000, MAX_TIMEOUT_MS) : MAX_TIMEOUT_MS;
      try {
        const r = await this.callPolicy({ uuid: b.policy, name: bound.name, kind: bound.kind }, light, ms, ms / 1000, full);
        const passing = b.negate ? !r.passing : r.passing;
        if (!light.debug) await this.logExecution(b, bound, r.used, passing, r.messages);
        return { ...base, bound, passing, messages: r.messages, log: r.log };
      } catch (e) {
        const error = (e as Error)?.message || String(e);
        if (!light.debug) await this.logException(b, bound, await full().catch(() => light), error);
        // fail closed: the binding's failure_result, not negated (as authentik); the error stays in the event log
        return { ...base, bound, passing: b.failure_result, messages: [], error, log: [] };
      }
    }
    const request = await full();
    // nobody logged in or pending passes no group or user binding, negated or not (authentik's static bindings count
    // passes only for a saved user: "everyone but group X" is not anonymous visitors)
    const someone = request.user !== undefined && request.user !== null;
    if (b.group) {
      const member = someone ? await isMember(this.svc().db, request.user!.id, b.group) : false;
      return {
        ...base,
        bound: { type: 'group', pk: b.group, name: request.debug ? await this.groupName(b.group) : '' },
        passing: someone && (b.negate ? !member : member),
        messages: [],
        log: [],
      };
    }
    const same = b.user !== null && request.user?.id === b.user;
    return {
      ...base,
      bound: { type: 'user', pk: b.user ?? 0, name: request.debug && b.user !== null ? await this.username(b.user) : '' },
      passing: someone && (b.negate ? !same : same),
      messages: [],
      log: [],
    };
  }

  /**
   * a bound group's or user's name, read when asked (the flow inspector's debug requests): names change without a
   * configuration write (a sync, another node), so the kept bindings hold ids only
   */
  private async groupName(group: string): Promise<string> {
    return (await this.svc().db.selectFrom('groups').select('name').where('group_uuid', '=', group).executeTakeFirst())?.name ?? '';
  }

  private async username(user: number): Promise<string> {
    return (await this.svc().db.selectFrom('users').select('username').where('id', '=', user).executeTakeFirst())?.username ?? '';
  }

  private eventUser(request: PolicyRequest) {
    const u = request.user;
    return u ? { pk: u.id, username: u.username, email: u.email } : undefined;
  }

  private async logExecution(
    b: KeptBinding,
    bound: { pk: string; name: string; kind: string },
    request: PolicyRequest,
    passing: boolean,
    messages: string[],
  ) {
    const svc = this.svc();
    const def = this.typeOf(bound.kind);
    const config = def ? await loadPolicyConfig<{ execution_logging: boolean }>(svc.db, def, bound.pk) : undefined;
    if (!config?.execution_logging) return;
    await svc.events.emit('policy_execution', {
      user: this.eventUser(request),
      req: eventRequestOf(request.http),
      context: {
        message: 'Policy Execution',
        result: { passing, messages },
        policy_uuid: bound.pk,
        binding: { pk: b.uuid, order: b.order, target: b.target },
        policy: { pk: bound.pk, name: bound.name, app: def?.app, model_name: bound.kind },
        request: { obj: request.obj ?? null, context: sanitise(request.context) },
      },
    });
  }

  private async logException(b: KeptBinding, bound: { pk: string; name: string; kind: string }, request: PolicyRequest, message: string) {
    const def = this.typeOf(bound.kind);
    try {
      await this.svc().events.emit('policy_exception', {
        user: this.eventUser(request),
        req: eventRequestOf(request.http),
        context: {
          message,
          policy_uuid: bound.pk,
          binding: { pk: b.uuid, order: b.order, target: b.target },
          policy: { pk: bound.pk, name: bound.name, app: def?.app, model_name: bound.kind },
        },
      });
    } catch {
      // the event log being unwritable must not change the verdict (which is already the failure result)
    }
  }
}

/** the context as an event records it: without the flow plan (what names a credential is cleansed by the event itself) */
function sanitise(context: Record<string, unknown>): Record<string, unknown> {
  const { flow_plan: _plan, ...out } = context;
  return out;
}

/**
 * the request with the client's place in its context: `geoip` and `asn` from the databases that are on (authentik's
 * PolicyRequest.set_http_request runs its context processors), unless the context has them already
 */
function withPlace(request: PolicyRequest, svc: Services): PolicyRequest {
  const ip = request.http?.clientIp;
  if (!ip || 'geoip' in request.context || 'asn' in request.context) return request;
  const place = svc.geoip.policyContext(ip);
  if (!('geoip' in place) && !('asn' in place)) return request;
  return { ...request, context: { ...request.context, ...place } };
}

/** a thunk that runs once; its promise is shared (a rejection too) */
function once<T>(f: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | undefined;
  return () => (p ??= f());
}
