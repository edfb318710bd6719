/**
 * What every OAuth2 endpoint shares: single-valued parameters (Django's QueryDict.get: the last value), client
 * credentials (HTTP Basic, else the form), authentik's TokenResponse (JSON, never cached), bearer errors with
 * `WWW-Authenticate`, the bad-request page, CORS for the provider's redirect origins, and the request's origin.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../../../config.js';
import type { BearerTokenError } from '../protocol/errors.js';
import { baseUrlOf } from '../urls.js';
import { originMatches } from '../protocol/redirect-uri.js';
import type { RedirectUri } from '../protocol/types.js';

export { formOf, paramsOf, queryOf, type Params } from '../../../rest/form.js';
import { formOf, queryOf, type Params } from '../../../rest/form.js';

/** `extract_client_auth`: HTTP Basic `client_id:client_secret`, else `client_id`/`client_secret` in the form */
export function clientAuthOf(req: FastifyRequest, form: Params): { clientId: string; clientSecret: string } {
  const header = req.headers.authorization ?? '';
  const m = /^Basic\s(.+)$/.exec(header);
  if (m) {
    const raw = Buffer.from(m[1]!.trim(), 'base64').toString('utf8');
    const i = raw.indexOf(':');
    if (i < 0) return { clientId: raw, clientSecret: '' };
    return { clientId: raw.slice(0, i), clientSecret: raw.slice(i + 1) };
  }
  return { clientId: form.client_id ?? '', clientSecret: form.client_secret ?? '' };
}

const digestOf = (s: string) => createHash('sha256').update(s, 'utf8').digest();
/** equal strings, compared in constant time (their SHA-256 digests: the length gives nothing away either) */
const sameSecret = (a: string, b: string) => timingSafeEqual(digestOf(a), digestOf(b));

/** RFC 6749 §2.3.1: Basic credentials are form-encoded first; authentik compares them as sent. Either matches. */
export function secretMatches(given: string, expected: string): boolean {
  if (sameSecret(given, expected)) return true;
  let decoded: string;
  try {
    decoded = decodeURIComponent(given.replace(/\+/g, ' '));
  } catch {
    return false;
  }
  return sameSecret(decoded, expected);
}

/** `extract_access_token`: `Authorization: Bearer …`, else `access_token` in the form or the query */
export function accessTokenOf(req: FastifyRequest): string | undefined {
  const header = req.headers.authorization ?? '';
  if (/^[Bb]earer\s.+$/.test(header)) return header.split(/\s+/)[1];
  const form = formOf(req);
  if (form.access_token !== undefined) return form.access_token;
  return queryOf(req).access_token;
}

/** authentik's TokenResponse: JSON that is never cached */
export function sendToken(reply: FastifyReply, body: unknown, status = 200) {
  return reply
    .code(status)
    .header('cache-control', 'no-store')
    .header('pragma', 'no-cache')
    .type('application/json')
    .send(JSON.stringify(body));
}

/** a refused bearer token: the status and authentik's WWW-Authenticate, no body */
export function sendBearerError(reply: FastifyReply, e: BearerTokenError) {
  return reply.code(e.status).header('www-authenticate', `error="${e.error}", error_description="${e.description}"`).send('');
}

export { sendBadRequestPage } from '../../../ui/bad-request.js';

/**
 * `cors_allow`: the Origin is echoed (with credentials) when one of the provider's redirect URIs allows it
 * (`originMatches`: the scheme, host and port of a strict URI, or a regex URI's pattern up to its path); a preflight
 * (OPTIONS) is always answered, as authentik's
 */
export function corsAllow(req: FastifyRequest, reply: FastifyReply, allowed: readonly RedirectUri[]) {
  const origin = req.headers.origin;
  if (!origin) return;
  const ok = req.method === 'OPTIONS' || allowed.some((entry) => originMatches(entry, origin));
  if (!ok) return;
  reply.header('access-control-allow-origin', origin).header('vary', 'Origin').header('access-control-allow-credentials', 'true');
  if (req.method === 'OPTIONS') {
    const h = req.headers['access-control-request-headers'];
    if (h) reply.header('access-control-allow-headers', h);
    reply.header('access-control-allow-methods', 'GET, POST, OPTIONS');
  }
}

/**
 * A redirect URI as a Location header: what an HTTP header cannot carry (non-ASCII, spaces, controls) percent-encoded
 * as UTF-8, as Django's redirect does for an IRI (a matched redirect URI may hold anything a regex allows)
 */
export const locationOf = (uri: string) =>
  uri.replace(/[^\x21-\x7e]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );

/** scheme://host the request came to, or the configured external URL */
export const originOf = (req: FastifyRequest, config: Pick<Config, 'externalUrl'>) => baseUrlOf(req, config);
