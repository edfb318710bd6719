/**
 * HTTP-level rules every response follows, whichever route answered: `Location` headers are always valid header text,
 * authenticated API answers are never cached, HTML pages carry a Content-Security-Policy, and HSTS is sent when the
 * (trusted) protocol is https.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { randomToken } from '../crypto/random.js';
import type { Config } from '../config.js';

/** this server's absolute root, without a trailing slash: the configured external URL, else the request's */
export const baseUrlOf = (req: FastifyRequest, config: Pick<Config, 'externalUrl'>) =>
  config.externalUrl ? config.externalUrl.origin + config.externalUrl.pathname.replace(/\/$/, '') : `${req.protocol}://${req.host}`;

/**
 * A redirect target as header text: every character outside printable ASCII (non-Latin-1 letters, spaces, control
 * characters) is percent-encoded as UTF-8; existing `%XX` escapes and reserved characters are kept, so encoding an
 * encoded value changes nothing. Lone surrogates become U+FFFD rather than throwing.
 */
export function encodeLocation(url: string): string {
  if (/^[\x21-\x7e]*$/.test(url)) return url;
  return url.replace(/[^\x21-\x7e]/gu, (c) => {
    let out = '';
    for (const b of Buffer.from(c, 'utf8')) out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
    return out;
  });
}

/** a fresh nonce for one HTML response's scripts */
export const scriptNonce = () => randomToken(16, 'base64');

/**
 * The policy of pages that run Keystage's scripts: only scripts carrying this response's nonce run, and what they load
 * (`strict-dynamic`): a captcha stage's provider script from its `js_url`, and the provider's own further scripts.
 * `'self'` is the fallback for browsers without CSP 3. No plugins, no `<base>` elsewhere, no framing.
 */
export const pageCsp = (nonce: string) =>
  `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'; object-src 'none'; base-uri 'self'; frame-ancestors 'none'`;

/** HTML without scripts of its own (error pages) */
const STATIC_HTML_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; base-uri 'self'; frame-ancestors 'none'";

const HSTS = 'max-age=31536000; includeSubDomains';

function isAuthenticatedApi(req: FastifyRequest): boolean {
  if (!req.url.startsWith('/api/v3/')) return false;
  return Boolean(req.caller || req.headers.authorization || req.headers.cookie);
}

function applyHeaders(req: FastifyRequest, reply: FastifyReply) {
  const location = reply.getHeader('location');
  if (typeof location === 'string') reply.header('location', encodeLocation(location));
  if (isAuthenticatedApi(req)) reply.header('cache-control', 'no-store');
  const type = reply.getHeader('content-type');
  if (typeof type === 'string' && type.startsWith('text/html') && !reply.hasHeader('content-security-policy'))
    reply.header('content-security-policy', STATIC_HTML_CSP);
  if (req.protocol === 'https') reply.header('strict-transport-security', HSTS);
}

export function installHttpHeaders(app: FastifyInstance) {
  app.addHook('onSend', (req, reply, payload, done) => {
    applyHeaders(req, reply);
    done(null, payload);
  });
}

const CREDENTIAL_HEADERS = new Set(['cookie', 'authorization', 'proxy-authorization', 'x-authentik-csrf', 'x-csrftoken']);

/** the request's headers without credentials (what policies and `/admin/system/` may show), repeated ones joined */
export function headersWithoutCredentials(req: FastifyRequest): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers))
    if (!CREDENTIAL_HEADERS.has(k) && v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
  return headers;
}

/**
 * requests whose flow POST is being followed by its GETs on Keystage's page (the executor's inline path): while they
 * are, policies and events see the GET authentik's protocol would send (a set, so the request keeps its shape)
 */
export const followedHops = new WeakSet<object>();

/** the request's method as policies and events see it (GET during a followed hop) */
export const requestMethod = (req: { method: string }): string => (followedHops.has(req) ? 'GET' : req.method);
