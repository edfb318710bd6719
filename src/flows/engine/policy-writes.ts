/**
 * What expression policies write into the flow context (authentik: `context["flow_plan"].context["key"] = …`, and
 * `prompt_data` changed in place), applied to the plan's context. In authentik's names:
 *
 * - `redirect_stage_target` — where the next redirect stage sends the person (`ak-flow://slug`, a path or an
 *   http(s) URL);
 * - `redirect` — where the flow ends (a path or an http(s) URL; it overrides `next`);
 * - `prompt_data` — what prompt stages collected (an object);
 * - any other key Keystage does not keep itself — kept as it is, for the policies after (`policyData`), at most
 *   64 KiB of JSON in all (the plan lives in the session);
 * - `flow_plan.redirect(url)` — a redirect stage next (a path or an http(s) URL; plan-redirect.ts);
 * - the keys Keystage keeps itself (`pending_user`, `auth_method`, `application`, `is_redirected`, …) are not
 *   written: they are what stages and Keystage decided, and a policy that tries changes nothing.
 */
import type { ContextChanges } from '../../expressions/index.js';
import type { FlowContext } from './context.js';
import { isRelative } from './challenge.js';

const MAX_POLICY_DATA = 64 * 1024;

/** the names policyContext (policy-request.ts) gives what Keystage keeps */
const KEPT = new Set([
  'pending_user',
  'auth_method',
  'auth_method_args',
  'user_backend',
  'captcha',
  'application',
  'consent_title',
  'consent_header',
  'consent_permissions',
  'consent_additional_permissions',
  'is_restored',
  'invitation',
  'invitation_in_effect',
  'is_redirected',
  'certificate',
  'source_match_failure',
  'source',
  'oauth_userinfo',
  'is_sso',
  'flow_plan',
]);

/** a place a browser may be sent: a path here or an http(s) URL (never `javascript:`, `data:`, …) */
const isSafeUrl = (v: string) => isRelative(v) || /^https?:\/\/[^\s]+$/i.test(v);

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

export const policyData = (ctx: FlowContext): [string, unknown][] => Object.entries(ctx.policyData ?? {});

function writeOther(ctx: FlowContext, key: string, value: unknown | undefined) {
  const next = { ...ctx.policyData };
  if (value === undefined) delete next[key];
  else next[key] = value;
  if (JSON.stringify(next).length > MAX_POLICY_DATA) return;
  if (Object.keys(next).length) ctx.policyData = next;
  else delete ctx.policyData;
}

function write(ctx: FlowContext, key: string, value: unknown | undefined) {
  if (KEPT.has(key)) return;
  switch (key) {
    case 'redirect_stage_target':
      if (value === undefined) delete ctx.redirectStageTarget;
      else if (typeof value === 'string' && (value.startsWith('ak-flow://') || isSafeUrl(value))) ctx.redirectStageTarget = value;
      return;
    case 'redirect':
      if (value === undefined) delete ctx.redirect;
      else if (typeof value === 'string' && isSafeUrl(value)) ctx.redirect = value;
      return;
    case 'prompt_data':
      if (value === undefined) delete ctx.promptData;
      else if (isPlainObject(value)) ctx.promptData = value;
      return;
    default:
      writeOther(ctx, key, value);
  }
}

export function applyPolicyWrites(ctx: FlowContext, changes: ContextChanges): void {
  for (const [k, v] of Object.entries(changes.set)) write(ctx, k, v);
  for (const k of changes.unset) write(ctx, k, undefined);
  // flow_plan.redirect(url): inserted by the executor after the binding (plan-redirect.ts)
  const redirects = (changes.redirects ?? []).filter(isSafeUrl);
  if (redirects.length) ctx.planRedirects = [...(ctx.planRedirects ?? []), ...redirects];
}
