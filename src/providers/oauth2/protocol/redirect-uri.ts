/**
 * Redirect URI matching as authentik's `check_redirect_uri` (views/authorize.py) and the token endpoint's
 * `__check_redirect_uri`: an entry matches by strict string equality, or — in `regex` mode — when its pattern matches
 * the whole URI (Python's `re.fullmatch`). Patterns run on re2js, in time linear in the URI; a pattern RE2 cannot
 * compile (a syntax error, or Python-only syntax such as back-references and look-arounds) is compared strictly
 * instead. A URI whose scheme is `javascript`, `data` or `vbscript` is refused even when an entry matches it.
 */
import { RE2JS } from 're2js';
import { FORBIDDEN_URI_SCHEMES } from './constants.js';
import { RedirectUriError, schemeOf } from './errors.js';
import type { RedirectUri } from './types.js';

export type RedirectUriCause = 'redirect_uri_missing' | 'redirect_uri_no_match' | 'redirect_uri_forbidden_scheme';

const compiled = new Map<string, RE2JS | null>();
const COMPILED_MAX = 1000;

/** the compiled pattern, or null when RE2 cannot compile it (cached, bounded) */
function patternOf(source: string): RE2JS | null {
  let p = compiled.get(source);
  if (p !== undefined) return p;
  try {
    p = RE2JS.compile(source);
  } catch {
    p = null;
  }
  if (compiled.size >= COMPILED_MAX) compiled.delete(compiled.keys().next().value!);
  compiled.set(source, p);
  return p;
}

/** an entry whose regex does not compile: the configuration error authentik records as an event */
export function isInvalidRegex(entry: RedirectUri): boolean {
  return entry.matching_mode === 'regex' && patternOf(entry.url) === null;
}

/** does this one entry allow the URI? */
export function entryMatches(entry: RedirectUri, uri: string): boolean {
  if (entry.matching_mode === 'regex') {
    const p = patternOf(entry.url);
    if (p) return p.matches(uri);
  }
  return entry.url === uri;
}

/**
 * does the entry allow requests from this Origin (CORS; authentik's origin_matches_redirect_uri)? Strict: the scheme,
 * host and port of its URL. Regex: the pattern up to the path (its part before the third unescaped `/`) matches the
 * whole Origin, so `https://preview-.*\\.example\\.org/cb` admits `https://preview-1.example.org`; a part that does not
 * compile admits nothing.
 */
export function originMatches(entry: RedirectUri, origin: string): boolean {
  if (entry.matching_mode === 'regex') {
    const p = patternOf(originPart(entry.url));
    return p ? p.matches(origin) : false;
  }
  try {
    const o = new URL(origin);
    const u = new URL(entry.url);
    return u.protocol === o.protocol && u.hostname === o.hostname && u.port === o.port;
  } catch {
    return false;
  }
}

/** a URL pattern's scheme, host and port: the text before its third unescaped `/` (all of it when there is none) */
function originPart(pattern: string): string {
  let slashes = 0;
  for (let i = 0; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === '/' && ++slashes === 3) return pattern.slice(0, i);
  }
  return pattern;
}

/** the entries of one kind: `authorization` for authorize/token, `logout` for end-session's post_logout_redirect_uri */
export const entriesOfType = (all: readonly RedirectUri[], type: RedirectUri['redirect_uri_type']) =>
  all.filter((e) => (e.redirect_uri_type ?? 'authorization') === type);

export type RedirectUriCheck = { ok: true } | { ok: false; cause: RedirectUriCause };

/** check a URI against entries: missing, no entry matches, or a forbidden scheme (in authentik's order) */
export function checkRedirectUri(uri: string | undefined, entries: readonly RedirectUri[]): RedirectUriCheck {
  if (!uri) return { ok: false, cause: 'redirect_uri_missing' };
  if (!entries.some((e) => entryMatches(e, uri))) return { ok: false, cause: 'redirect_uri_no_match' };
  if (FORBIDDEN_URI_SCHEMES.has(schemeOf(uri))) return { ok: false, cause: 'redirect_uri_forbidden_scheme' };
  return { ok: true };
}

/** the authorize step: throws authentik's RedirectUriError (with its cause) unless the URI is allowed */
export function assertRedirectUri(uri: string | undefined, entries: readonly RedirectUri[]): void {
  const r = checkRedirectUri(uri, entries);
  if (!r.ok) throw new RedirectUriError(uri ?? '', entries).withCause(r.cause);
}
