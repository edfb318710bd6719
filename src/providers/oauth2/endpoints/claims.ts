/**
 * A user's claims from a provider's scope mappings (authentik's `UserInfoView.get_claims`): the mappings of the
 * granted scopes, in scope-name order, each result deep-merged into the claims (`deepmerge.always_merger`: objects
 * merged, lists appended, anything else replaced). A mapping that fails gives nothing (evaluateScopeMapping records it).
 */
import type { FastifyRequest } from 'fastify';
import type { UsersTable } from '../../../db/types.js';
import type { Services } from '../../../services.js';
import { evaluateScopeMapping, nativeMappingOf, scopeMappingsOf, type ScopeMapping } from '../../mappings.js';
import type { OAuth2Provider } from '../config.js';

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** `always_merger.merge(target, src)` */
export function deepMerge(target: Record<string, unknown>, src: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(src)) {
    const t = target[k];
    if (isObject(t) && isObject(v)) deepMerge(t, v);
    else if (Array.isArray(t) && Array.isArray(v)) target[k] = [...t, ...v];
    else target[k] = isObject(v) ? deepMerge({}, v) : Array.isArray(v) ? [...v] : v;
  }
  return target;
}

/** the provider's scope mappings (ordered by scope name, then name) */
export const mappingsOf = (svc: Services, provider: OAuth2Provider): Promise<ScopeMapping[]> =>
  scopeMappingsOf(svc, provider.property_mappings);

/** the scope names the provider's mappings offer */
export async function scopeNamesOf(svc: Services, provider: OAuth2Provider): Promise<Set<string>> {
  return new Set((await mappingsOf(svc, provider)).map((m) => m.scope_name));
}

/** the claims of the granted scopes for a user */
export async function claimsOf(
  svc: Services,
  provider: OAuth2Provider,
  user: UsersTable,
  scopes: Iterable<string>,
  req?: FastifyRequest,
  token?: Record<string, unknown>,
): Promise<Record<string, unknown>> {
  const granted = new Set(scopes);
  const out: Record<string, unknown> = {};
  for (const m of await mappingsOf(svc, provider)) {
    if (!granted.has(m.scope_name)) continue;
    const value = await evaluateScopeMapping(svc, m, { user, request: req, provider, ...(token ? { token } : {}) });
    deepMerge(out, value);
  }
  return out;
}

/**
 * Whether the claims of these scopes come from authentik's managed texts alone (run natively: the same user gives
 * the same claims, with no side effects), so that a grant's second ID token may reuse its first one's claims.
 * Any other text is Python, run for each token as authentik does.
 */
export async function claimsAreNative(svc: Services, provider: OAuth2Provider, scopes: Iterable<string>): Promise<boolean> {
  const granted = new Set(scopes);
  return (await mappingsOf(svc, provider)).every((m) => !granted.has(m.scope_name) || nativeMappingOf(m.expression) !== undefined);
}
