/**
 * The authorization response (authentik's `OAuthFulfillmentStage.create_response_uri`): the values (code, tokens,
 * state) in the redirect URI's query (`query`), appended to its fragment (`fragment`), or posted by an autosubmit
 * form (`form_post`), with Python's `urlencode` (`quote_plus`) encoding.
 */
import { pyQuote } from './errors.js';
import { RESPONSE_MODE_FORM_POST, RESPONSE_MODE_FRAGMENT, type ResponseMode } from './constants.js';

export type ResponseValues = [name: string, value: string][];

/** `urllib.parse.quote_plus` */
export const quotePlus = (s: string) => pyQuote(s, ' ').replace(/ /g, '+');

/** `urllib.parse.urlencode` of pairs */
export const pyUrlencode = (pairs: ResponseValues) => pairs.map(([k, v]) => `${quotePlus(k)}=${quotePlus(v)}`).join('&');

/** `parse_qs` (blank values dropped) flattened back to pairs, in order */
function parseQs(query: string): ResponseValues {
  const out: ResponseValues = [];
  for (const part of query.split(/[&;]/)) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    const v = dec(part.slice(eq + 1));
    if (v === '') continue;
    out.push([dec(part.slice(0, eq)), v]);
  }
  return out;
}

/** `urlsplit` into [before-query, query, fragment] keeping the scheme and authority as written */
function split(uri: string): { base: string; query: string; fragment: string } {
  const hash = uri.indexOf('#');
  const fragment = hash >= 0 ? uri.slice(hash + 1) : '';
  const rest = hash >= 0 ? uri.slice(0, hash) : uri;
  const q = rest.indexOf('?');
  return { base: q >= 0 ? rest.slice(0, q) : rest, query: q >= 0 ? rest.slice(q + 1) : '', fragment };
}

const join = (p: { base: string; query: string; fragment: string }) =>
  p.base + (p.query ? `?${p.query}` : '') + (p.fragment ? `#${p.fragment}` : '');

/**
 * query mode: the redirect URI's own query as `parse_qs` reads it (blanks dropped, repeated names grouped at their
 * first place), the values set over it (a name already there keeps its place), re-encoded with `doseq`
 */
export function withQuery(redirectUri: string, values: ResponseValues): string {
  const p = split(redirectUri);
  const dict = new Map<string, string[]>();
  for (const [k, v] of parseQs(p.query)) dict.set(k, [...(dict.get(k) ?? []), v]);
  for (const [k, v] of values) dict.set(k, [v]);
  const pairs: ResponseValues = [];
  for (const [k, vs] of dict) for (const v of vs) pairs.push([k, v]);
  return join({ ...p, query: pyUrlencode(pairs) });
}

/** fragment mode: the values appended to the redirect URI's fragment (as authentik concatenates them) */
export function withFragment(redirectUri: string, values: ResponseValues): string {
  const p = split(redirectUri);
  return join({ ...p, fragment: p.fragment + pyUrlencode(values) });
}

export type AuthorizationResponse =
  | { redirect: string }
  /** authentik's `ak-stage-autosubmit` challenge: a form posting `attrs` to `url` */
  | { formPost: { url: string; attrs: Record<string, string> } };

/** the response for the mode */
export function authorizationResponse(redirectUri: string, mode: ResponseMode, values: ResponseValues): AuthorizationResponse {
  // (authentik encodes the values into a URL and reads them back with parse_qs: blank values fall out)
  if (mode === RESPONSE_MODE_FORM_POST)
    return { formPost: { url: redirectUri, attrs: Object.fromEntries(values.filter(([, v]) => v !== '')) } };
  if (mode === RESPONSE_MODE_FRAGMENT) return { redirect: withFragment(redirectUri, values) };
  return { redirect: withQuery(redirectUri, values) };
}
