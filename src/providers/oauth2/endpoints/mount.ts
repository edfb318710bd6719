/**
 * The OAuth2/OIDC endpoints at authentik's URLs (authentik/providers/oauth2/urls.py, mounted at /application/o/),
 * in an encapsulated plugin that reads form bodies (application/x-www-form-urlencoded: the rest of the server takes
 * JSON only). These routes write no configuration: a POST does not drop the admin cache (`noConfigWrites`). Expired
 * grants are swept every ten minutes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { acceptForms } from '../../../rest/form.js';
import { authorizeEndpoint, fulfilEndpoint } from './authorize.js';
import { endSessionEndpoint } from './end-session.js';
import { deleteExpired } from '../tokens/store.js';
import { deviceAuthorizationEndpoint, DEVICE_ENTRY_PATH } from '../device/authorization.js';
import { deviceEntry } from '../device/entry.js';
import { corsAllow, sendToken } from './http.js';
import { introspectEndpoint } from './introspect.js';
import { endTokensWithSessions } from './session-logout.js';
import { revokeEndpoint } from './revoke.js';
import { tokenEndpoint } from './token/index.js';
import { userinfoEndpoint } from './userinfo.js';
import { discoveryEndpoint, jwksEndpoint } from './well-known.js';
import { webfingerEndpoint } from './webfinger.js';
import { githubTeamsEndpoint, githubUserEndpoint } from './github.js';

const FORM_LIMIT = 64 * 1024;
/** expired grants are deleted this often (codes a day after their expiry: a late second redemption still revokes) */
const SWEEP_MS = 10 * 60_000;

/** a registration's body is read as text whatever its type (the endpoint answers a body that is not JSON itself) */
const REGISTRATION_LIMIT = 64 * 1024;

export function mountOAuth2Protocol(
  app: FastifyInstance,
  svc: Services,
  /** POST /application/o/<slug>/register/ (dcr/register.ts): it writes configuration, so it is outside `noConfigWrites` */
  register: (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>,
) {
  app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: REGISTRATION_LIMIT }, (_req, body, done) => done(null, String(body)));
    scope.post('/application/o/:slug/register/', (req, reply) => register(req, reply));
  });
  endTokensWithSessions(svc, app.log);
  app.register(async (scope) => {
    const sweep = setInterval(() => {
      deleteExpired(svc.db).catch((err) => app.log.warn({ err }, 'expired OAuth2 grant sweep failed'));
    }, SWEEP_MS);
    sweep.unref();
    scope.addHook('onClose', async () => clearInterval(sweep));
    acceptForms(scope, FORM_LIMIT);
    const config = { noConfigWrites: true };
    const base = '/application/o';
    scope.get(`${base}/:slug/.well-known/openid-configuration`, { config }, (req, reply) => discoveryEndpoint(svc, req, reply));
    scope.get('/.well-known/webfinger', { config }, (req, reply) => webfingerEndpoint(svc, req, reply));
    scope.get(`${base}/:slug/`, { config }, (req, reply) =>
      reply.redirect(`${base}/${encodeURIComponent((req.params as { slug: string }).slug)}/.well-known/openid-configuration`, 302),
    );
    for (const method of ['GET', 'POST'] as const) {
      scope.route({ method, url: `${base}/authorize/`, config, handler: (req, reply) => authorizeEndpoint(svc, req, reply) });
      scope.route({ method, url: `${base}/authorize/fulfil/:key/`, config, handler: (req, reply) => fulfilEndpoint(svc, req, reply) });
    }
    for (const method of ['GET', 'POST'] as const)
      scope.route({ method, url: `${base}/:slug/end-session/`, config, handler: (req, reply) => endSessionEndpoint(svc, req, reply) });
    scope.get(`${base}/:slug/jwks/`, { config }, (req, reply) => jwksEndpoint(svc, req, reply));
    scope.post(`${base}/token/`, { config }, (req, reply) => tokenEndpoint(svc, req, reply));
    scope.options(`${base}/token/`, { config }, (req, reply) => {
      corsAllow(req, reply, []);
      return sendToken(reply, {});
    });
    for (const method of ['GET', 'POST', 'OPTIONS'] as const)
      scope.route({ method, url: `${base}/userinfo/`, config, handler: (req, reply) => userinfoEndpoint(svc, req, reply) });
    scope.post(`${base}/introspect/`, { config }, (req, reply) => introspectEndpoint(svc, req, reply));
    scope.post(`${base}/revoke/`, { config }, (req, reply) => revokeEndpoint(svc, req, reply));
    scope.post(`${base}/device/`, { config }, (req, reply) => deviceAuthorizationEndpoint(svc, req, reply));
    scope.get(DEVICE_ENTRY_PATH, { config }, (req, reply) => deviceEntry(svc, req, reply));
    // authentik's GitHub-compatible endpoints (github.ts)
    for (const method of ['GET', 'POST'] as const)
      scope.route({
        method,
        url: '/login/oauth/authorize',
        config,
        handler: (req, reply) => authorizeEndpoint(svc, req, reply, { githubCompat: true }),
      });
    scope.post('/login/oauth/access_token', { config }, (req, reply) => tokenEndpoint(svc, req, reply));
    scope.get('/user', { config }, (req, reply) => githubUserEndpoint(svc, req, reply));
    scope.get('/user/teams', { config }, (req, reply) => githubTeamsEndpoint(svc, req, reply));
  });
}
