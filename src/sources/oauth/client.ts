/**
 * The OAuth 2 client side of a source (authentik's OAuth2Client): the authorization redirect's parameters, the code
 * exchanged at the token URL (client authentication by HTTP Basic or in the body, PKCE verifier) — or any other grant
 * there (a SCIM provider's token) —, and the profile
 * fetched with the access token in the Authorization header. Every call is bounded in time.
 */
import { createHash, randomBytes } from 'node:crypto';

const TIMEOUT_MS = 10_000;

export interface OAuthClientConfig {
  consumer_key: string;
  consumer_secret: string;
  pkce: string;
  authorization_code_auth_method: string;
  additional_scopes: string;
}

/** authentik's scope rule: the type's scopes plus additional_scopes, or only them when they start with `*` */
export function scopesOf(typeScopes: string[], additional: string): string {
  let scopes = [...typeScopes];
  if (additional !== '') {
    if (additional.startsWith('*')) scopes = additional.slice(1).split(' ');
    else scopes.push(...additional.split(' '));
  }
  return [...new Set(scopes.filter((s) => s !== ''))].join(' ');
}

export interface Started {
  url: string;
  state: string;
  verifier?: string;
}

export function authorizationRedirect(
  authorizationUrl: string,
  cfg: OAuthClientConfig,
  redirectUri: string,
  scope: string,
  extra: Record<string, string> = {},
): Started {
  const state = randomBytes(24).toString('base64url');
  const url = new URL(authorizationUrl);
  for (const [k, v] of Object.entries(extra)) url.searchParams.set(k, v);
  url.searchParams.set('client_id', cfg.consumer_key);
  url.searchParams.set('redirect_uri', redirectUri);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('state', state);
  if (scope) url.searchParams.set('scope', scope);
  let verifier: string | undefined;
  if (cfg.pkce === 'S256' || cfg.pkce === 'plain') {
    verifier = randomBytes(48).toString('base64url');
    url.searchParams.set('code_challenge', cfg.pkce === 'S256' ? createHash('sha256').update(verifier).digest('base64url') : verifier);
    url.searchParams.set('code_challenge_method', cfg.pkce);
  }
  return { url: url.toString(), state, ...(verifier ? { verifier } : {}) };
}

export type TokenResult = { ok: true; token: Record<string, unknown> } | { ok: false; reason: string };

/** the token response: JSON, or (some providers) a form-encoded body */
function parseToken(text: string): Record<string, unknown> | undefined {
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    return undefined;
  } catch {
    const form = Object.fromEntries(new URLSearchParams(text));
    return Object.keys(form).length ? form : undefined;
  }
}

export function exchangeCode(
  tokenUrl: string,
  cfg: OAuthClientConfig,
  code: string,
  redirectUri: string,
  verifier: string | undefined,
  normalize: (token: Record<string, unknown>) => Record<string, unknown> = (t) => t,
): Promise<TokenResult> {
  return requestToken(
    tokenUrl,
    cfg,
    { grant_type: 'authorization_code', code, redirect_uri: redirectUri, ...(verifier ? { code_verifier: verifier } : {}) },
    normalize,
  );
}

/**
 * a token from the token URL for these parameters (authentik's get_access_token: the client authenticated as the
 * source says, in the body or by HTTP Basic); an `error` in the answer is its reason
 */
export async function requestToken(
  tokenUrl: string,
  cfg: Pick<OAuthClientConfig, 'consumer_key' | 'consumer_secret' | 'authorization_code_auth_method'>,
  params: Record<string, string>,
  normalize: (token: Record<string, unknown>) => Record<string, unknown> = (t) => t,
): Promise<TokenResult> {
  const body = new URLSearchParams(params);
  const headers: Record<string, string> = { accept: 'application/json', 'content-type': 'application/x-www-form-urlencoded' };
  if (cfg.authorization_code_auth_method === 'post_body') {
    body.set('client_id', cfg.consumer_key);
    body.set('client_secret', cfg.consumer_secret);
  } else {
    // RFC 6749 2.3.1: each part form-encoded before Basic
    const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
    headers.authorization = `Basic ${Buffer.from(`${enc(cfg.consumer_key)}:${enc(cfg.consumer_secret)}`).toString('base64')}`;
  }
  let res: Response;
  try {
    res = await fetch(tokenUrl, { method: 'POST', headers, body, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
  } catch {
    return { ok: false, reason: 'Could not retrieve token.' };
  }
  const parsed = parseToken(await res.text().catch(() => ''));
  const token = parsed && normalize(parsed);
  if (token && typeof token.error === 'string') return { ok: false, reason: token.error };
  if (!res.ok || !token || typeof token.access_token !== 'string') return { ok: false, reason: 'Could not retrieve token.' };
  return { ok: true, token };
}

/** a token from a GET (WeChat's exchange: the app secret in the query, its errors as `errcode`/`errmsg`) */
export async function getToken(url: string): Promise<TokenResult> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' }, signal: AbortSignal.timeout(TIMEOUT_MS), redirect: 'error' });
  } catch {
    return { ok: false, reason: 'Could not retrieve token.' };
  }
  const token = parseToken(await res.text().catch(() => ''));
  if (token && token.errcode !== undefined)
    return { ok: false, reason: typeof token.errmsg === 'string' ? token.errmsg : 'Could not retrieve token.' };
  if (!res.ok || !token || typeof token.access_token !== 'string') return { ok: false, reason: 'Could not retrieve token.' };
  return { ok: true, token };
}

/** a JSON GET authorised by the access token (the Authorization header only: a token in a URL ends up in logs) */
export async function getWithToken(url: string, token: Record<string, unknown>): Promise<unknown> {
  const type = typeof token.token_type === 'string' && token.token_type !== '' ? token.token_type : 'Bearer';
  // "bearer" as some providers spell it is sent as "Bearer" (RFC 6750 names the scheme so; servers compare it exactly)
  const scheme = type.toLowerCase() === 'bearer' ? 'Bearer' : type;
  const res = await fetch(url, {
    headers: { accept: 'application/json', authorization: `${scheme} ${String(token.access_token)}` },
    signal: AbortSignal.timeout(TIMEOUT_MS),
    redirect: 'error',
  });
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
  return res.json();
}

export async function fetchProfile(profileUrl: string, token: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
  try {
    const v = await getWithToken(profileUrl, token);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
