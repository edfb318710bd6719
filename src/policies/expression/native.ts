/**
 * authentik's default-blueprint expressions, run as TypeScript instead of Python when an expression is exactly one
 * of them (comments, blank lines and trailing spaces aside): they guard every login of the default flow, so they
 * must not need the Python runtime. test/policies/expression-native.test.ts shows each gives the Python runtime's
 * result on the same inputs.
 */
import type { PolicyRequest, PolicyResult } from '../types.js';

/** the expression's lines that mean something: no comment-only or blank lines, no trailing spaces */
export function normalise(source: string): string {
  return source
    .split(/\r?\n/)
    .map((l) => l.replace(/\s+$/, ''))
    .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
    .join('\n');
}

type Native = (request: PolicyRequest) => boolean;

const planContext = (r: PolicyRequest): Record<string, unknown> | undefined => {
  const plan = r.context.flow_plan as { context?: Record<string, unknown> } | undefined;
  return plan ? (plan.context ?? {}) : undefined;
};

export const PASSWORD_STAGE = `flow_plan = request.context.get("flow_plan")
if not flow_plan:
    return True
# If the user does not have a backend attached to it, they haven't
# been authenticated yet and we need the password stage
return not hasattr(flow_plan.context.get("pending_user"), "backend")
`;

export const VALIDATE_STAGE = `flow_plan = request.context.get("flow_plan")
if not flow_plan:
    return True
# if the authentication method is webauthn (passwordless), then we skip the authenticator
# validation stage by returning false (true will execute the stage)
return not (flow_plan.context.get("auth_method") == "auth_webauthn_pwl")
`;

const NATIVE = new Map<string, Native>([
  [
    normalise(PASSWORD_STAGE),
    (r) => {
      const ctx = planContext(r);
      if (!ctx) return true;
      const pending = ctx.pending_user as Record<string, unknown> | undefined;
      return !(pending && typeof pending === 'object' && 'backend' in pending);
    },
  ],
  [
    normalise(VALIDATE_STAGE),
    (r) => {
      const ctx = planContext(r);
      if (!ctx) return true;
      return !(ctx.auth_method === 'auth_webauthn_pwl');
    },
  ],
]);

/** expressions already looked at (a policy's text is read on every check): the native version or null */
const seen = new Map<string, ((request: PolicyRequest) => PolicyResult) | null>();

/** the native version of an expression, if it is one of authentik's defaults */
export function nativeOf(source: string): ((request: PolicyRequest) => PolicyResult) | undefined {
  let known = seen.get(source);
  if (known === undefined) {
    const fn = NATIVE.get(normalise(source));
    known = fn ? (request) => ({ passing: fn(request), messages: [] }) : null;
    if (seen.size >= 256) seen.clear();
    seen.set(source, known);
  }
  return known ?? undefined;
}
