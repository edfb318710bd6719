/**
 * authentik's default-blueprint expressions, run as TypeScript instead of Python when an expression is exactly one
 * of them (comments, blank lines and trailing spaces aside): they guard every login of the default flow, so they
 * must not need the Python runtime. test/policies/expression.test.ts (the default-flow expressions) and
 * test/expressions/authentik-modules.test.ts (the user settings authorization) show each gives the Python runtime's
 * result on the same inputs.
 */
import { systemSettings } from '../../instance/system-settings/store.js';
import type { PolicyCall, PolicyRequest, PolicyResult } from '../types.js';
import { groupAttributes } from '../../groups/membership.js';

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

/** authentik's default-source-authentication-if-sso and default-source-enrollment-if-sso */
export const IF_SSO = `# This policy ensures that this flow can only be used when the user
# is in a SSO Flow (meaning they come from an external IdP)
return ak_is_sso_flow
`;

/** authentik's default-source-enrollment-if-username */
export const IF_NO_USERNAME = `# Check if we've not been given a username by the external IdP
# and trigger the enrollment flow
return 'username' not in context.get('prompt_data', {})
`;

const NATIVE = new Map<string, Native>([
  // ak_is_sso_flow: request.context.get("is_sso", False)
  [normalise(IF_SSO), (r) => r.context.is_sso === true],
  [
    normalise(IF_NO_USERNAME),
    (r) => {
      const prompt = r.context.prompt_data;
      return !(prompt && typeof prompt === 'object' && 'username' in prompt);
    },
  ],
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

/**
 * authentik's `default-user-settings-authorization` (blueprints/default/flow-default-user-settings-flow.yaml): the
 * user settings prompt may change the e-mail, name and username only where the user's merged group attributes
 * `goauthentik.io/user/can-change-*` (else the AUTHENTIK_DEFAULT_USER_CHANGE_* settings) allow it.
 */
export const SETTINGS_AUTHORIZATION = `from authentik.lib.config import CONFIG
from authentik.core.models import (
    USER_ATTRIBUTE_CHANGE_EMAIL,
    USER_ATTRIBUTE_CHANGE_NAME,
    USER_ATTRIBUTE_CHANGE_USERNAME
)
prompt_data = request.context.get("prompt_data")

if not request.user.group_attributes(request.http_request).get(
    USER_ATTRIBUTE_CHANGE_EMAIL, CONFIG.get_bool("default_user_change_email", True)
):
    if prompt_data.get("email") != request.user.email:
        ak_message("Not allowed to change email address.")
        return False

if not request.user.group_attributes(request.http_request).get(
    USER_ATTRIBUTE_CHANGE_NAME, CONFIG.get_bool("default_user_change_name", True)
):
    if prompt_data.get("name") != request.user.name:
        ak_message("Not allowed to change name.")
        return False

if not request.user.group_attributes(request.http_request).get(
    USER_ATTRIBUTE_CHANGE_USERNAME, CONFIG.get_bool("default_user_change_username", True)
):
    if prompt_data.get("username") != request.user.username:
        ak_message("Not allowed to change username.")
        return False

return True
`;

/** Python's truthiness of a JSON value */
const truthy = (v: unknown) =>
  !(
    v === null ||
    v === undefined ||
    v === false ||
    v === 0 ||
    v === '' ||
    (Array.isArray(v) && !v.length) ||
    (typeof v === 'object' && !Object.keys(v).length)
  );

type NativeCall = (call: PolicyCall<unknown>) => Promise<PolicyResult>;

const NATIVE_CALLS = new Map<string, NativeCall>([
  [
    normalise(SETTINGS_AUTHORIZATION),
    async ({ svc, request }) => {
      const user = request.user;
      // (an anonymous request.user has no group_attributes: the expression raises)
      if (!user) throw new Error("AttributeError: 'AnonymousUser' object has no attribute 'group_attributes'");
      const data = request.context.prompt_data as Record<string, unknown> | null | undefined;
      const attributes = await groupAttributes(svc.db, user.id, user.attributes);
      const defaults = await systemSettings(svc.db);
      const rules = [
        ['goauthentik.io/user/can-change-email', defaults.default_user_change_email, 'email', 'Not allowed to change email address.'],
        ['goauthentik.io/user/can-change-name', defaults.default_user_change_name, 'name', 'Not allowed to change name.'],
        ['goauthentik.io/user/can-change-username', defaults.default_user_change_username, 'username', 'Not allowed to change username.'],
      ] as const;
      for (const [key, fallback, field, message] of rules) {
        const allowed = Object.hasOwn(attributes, key) ? truthy(attributes[key]) : fallback;
        if (allowed) continue;
        // (without prompt data, `prompt_data.get(…)` raises)
        if (data === null || data === undefined) throw new Error("AttributeError: 'NoneType' object has no attribute 'get'");
        if (data[field] !== user[field]) return { passing: false, messages: [message] };
      }
      return { passing: true, messages: [] };
    },
  ],
]);

/** the native version of an expression that reads more than the plan's context (the user, their groups) */
export function nativeCallOf(source: string): NativeCall | undefined {
  return NATIVE_CALLS.get(normalise(source));
}
