/**
 * Scopes as authentik reads them: a space-separated set (Python's `str.split()`: any run of whitespace); at the
 * authorization endpoint no scope means every scope of the provider's mappings and unknown scopes are silently
 * intersected away (`check_scope`); the token endpoint intersects the same way (`__check_scopes`).
 */
export const parseScope = (raw: string | undefined | null): Set<string> =>
  new Set((raw ?? '').split(/[\s\x1c-\x1f\x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/u).filter(Boolean));

/** the space-joined form stored on grants and returned in `scope` (insertion order) */
export const formatScope = (scopes: Iterable<string>): string => [...scopes].join(' ');

/** the requested scopes, or all of the provider's when none were asked for, without the ones it does not know */
export function allowedScopes(requested: ReadonlySet<string>, providerScopes: ReadonlySet<string>): Set<string> {
  if (requested.size === 0) return new Set(providerScopes);
  return new Set([...requested].filter((s) => providerScopes.has(s)));
}

/** GitHub's OAuth scopes, which its compatible endpoints read (`user:email` for /user, `read:org` for /user/teams) */
export const SCOPE_GITHUB: ReadonlySet<string> = new Set(['user', 'read:user', 'user:email', 'read:org']);

/**
 * `check_scope(github_compat=True)`: as `allowedScopes`, except that when every scope asked besides GitHub's is the
 * provider's, GitHub's are kept too (else all unknown ones go, GitHub's with them: authentik's rule)
 */
export function githubScopes(requested: ReadonlySet<string>, providerScopes: ReadonlySet<string>): Set<string> {
  if (requested.size === 0) return new Set(providerScopes);
  if ([...requested].every((s) => SCOPE_GITHUB.has(s) || providerScopes.has(s))) return new Set(requested);
  return allowedScopes(requested, providerScopes);
}

/** the token endpoint's intersection (nothing asked stays nothing: the grant falls back to its own scopes) */
export const intersectScopes = (requested: ReadonlySet<string>, providerScopes: ReadonlySet<string>): Set<string> =>
  new Set([...requested].filter((s) => providerScopes.has(s)));
