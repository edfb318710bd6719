/** The SAML provider type: its schema, its protocol endpoints, its admin routes and the launch URL it gives applications. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { acceptForms, formOf, queryOf } from '../../rest/form.js';
import { parseXml } from '../../saml/xml.js';
import { messageXml } from '../../saml/message.js';
import { endSamlSessionsWithSessions, logoutResponseEndpoint, relayEndpoint, sloEndpoint } from './slo.js';
import { sessionEndStage } from './stages/session-end.js';
import { nativeLogoutStage } from './stages/native-logout/index.js';
import type { ProviderDef } from '../types.js';
import { ValidationError } from '../../rest/errors.js';
import { baseUrlOf } from '../../rest/http.js';
import type { Services } from '../../services.js';
import { samlSchema } from './schema.js';
import { mountSamlAdmin } from './admin-routes.js';
import { mountSamlImport } from './import-metadata.js';
import { ensureManagedSamlMappings } from './managed.js';
import { type Binding, fulfilEndpoint, ssoEndpoint } from './sso.js';
import { issuerOf, samlUrls } from './urls.js';
import { metadataOf } from './admin-routes.js';
import { samlProviderByAppSlug } from './config.js';

const FORM_LIMIT = 256 * 1024;
/** expired SAML sessions are deleted this often */
const SWEEP_MS = 10 * 60_000;

/** what the WS-Federation provider (authentik's SAMLProvider subclass) builds on */
export { LOGOUT_METHODS, NAME_ID_POLICIES, SAML_BINDINGS, samlSchema } from './schema.js';
export type { SamlProvider } from './config.js';
export { assertionXml, encryptAssertion, type KeyPems } from './assertion.js';
export { assertionInputFor } from './sso.js';
export { samlPreview } from './admin-routes.js';
export { metadataId } from './metadata.js';
export { appendSessionEnd } from './stages/session-end.js';
export { recordSession, takeSessions } from './sessions.js';

/**
 * the unified endpoint (authentik's unified view): a LogoutRequest is single logout, anything else single sign-on
 * (the redirect binding by GET, the POST binding by POST); a LogoutResponse (the SP's answer to Keystage's logout
 * request) ends at Keystage's root
 */
async function unifiedEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const p = req.method === 'POST' ? formOf(req) : queryOf(req);
  const binding = req.method === 'POST' ? 'post' : 'redirect';
  if (p.SAMLRequest === undefined && p.SAMLResponse !== undefined) return logoutResponseEndpoint(svc, req, reply);
  if (p.SAMLRequest !== undefined) {
    let logout = false;
    try {
      logout = parseXml(messageXml(p.SAMLRequest, binding === 'redirect')).localName === 'LogoutRequest';
    } catch {
      // (refused by the single sign-on's checks, with their message)
    }
    if (logout) return sloEndpoint(svc, req, reply, binding);
  }
  return ssoEndpoint(svc, req, reply, binding);
}

/** /application/saml/<slug>/…: authentik's SSO bindings, the unified endpoint, IdP-initiated logins and the metadata */
function mountSamlProtocol(app: FastifyInstance, svc: Services) {
  endSamlSessionsWithSessions(svc, app.log);
  app.register(async (scope) => {
    const sweep = setInterval(() => {
      svc.db
        .deleteFrom('saml_sessions')
        .where('expires', '<', new Date().toISOString())
        .execute()
        .catch((err) => app.log.warn({ err }, 'expired SAML session sweep failed'));
    }, SWEEP_MS);
    sweep.unref();
    scope.addHook('onClose', async () => clearInterval(sweep));
    acceptForms(scope, FORM_LIMIT);
    const config = { noConfigWrites: true };
    const base = '/application/saml/:slug';
    const sso = (binding: Binding | ((method: string) => Binding)) => ({
      config,
      handler: (req: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) =>
        ssoEndpoint(svc, req, reply, typeof binding === 'function' ? binding(req.method) : binding),
    });
    for (const method of ['GET', 'POST'] as const) {
      scope.route({ method, url: `${base}/sso/binding/redirect/`, ...sso('redirect') });
      scope.route({ method, url: `${base}/sso/binding/post/`, ...sso('post') });
      scope.route({ method, url: `${base}/sso/binding/init/`, ...sso('init') });
      scope.route({ method, url: `${base}/init/`, ...sso('init') });
      // the unified endpoint: the redirect binding by GET, the POST binding by POST; a LogoutRequest is a logout
      scope.route({ method, url: `${base}/`, config, handler: (req, reply) => unifiedEndpoint(svc, req, reply) });
      for (const binding of ['redirect', 'post'] as const)
        scope.route({
          method,
          url: `${base}/slo/binding/${binding}/`,
          config,
          handler: (req, reply) => {
            const p = req.method === 'POST' ? formOf(req) : queryOf(req);
            // (a service provider's LogoutResponse: the end of a native front-channel logout)
            if (p.SAMLResponse !== undefined && p.SAMLRequest === undefined) return logoutResponseEndpoint(svc, req, reply);
            return sloEndpoint(svc, req, reply, binding);
          },
        });
      scope.route({ method, url: `${base}/sso/fulfil/:key/`, config, handler: (req, reply) => fulfilEndpoint(svc, req, reply) });
    }
    scope.get(`${base}/slo/relay/`, { config }, (req, reply) => relayEndpoint(svc, req, reply));
    scope.get(`${base}/metadata/`, { config }, async (req, reply) => {
      const p = await samlProviderByAppSlug(svc, (req.params as { slug: string }).slug);
      if (!p) return reply.code(404).type('text/html').send('<h1>Not Found</h1>');
      return reply
        .type('application/xml')
        .header('content-disposition', `attachment; filename="${p.name.replace(/["\\\r\n]/g, '_')}_authentik_meta.xml"`)
        .send(await metadataOf(svc, req, p));
    });
  });
}

export const samlProvider: ProviderDef = {
  ...samlSchema,
  describe: (name) => `SAML Provider ${name}`,
  async validate(data, ctx, existing) {
    const merged = { ...existing, ...data } as Record<string, unknown>;
    const on = (v: unknown) => v === true || v === 1;
    if (merged.signing_kp && !on(merged.sign_assertion) && !on(merged.sign_response))
      throw new ValidationError({
        non_field_errors: ["With a signing keypair selected, at least one of 'Sign assertion' and 'Sign Response' must be selected."],
      });
    // XML signatures here are RSA or ECDSA (authentik: RSA, EC and DSA): an Ed25519/Ed448 pair could sign nothing
    if (merged.signing_kp) {
      const kp = await ctx.db
        .selectFrom('crypto_certificatekeypairs')
        .select('key_type')
        .where('kp_uuid', '=', merged.signing_kp as string)
        .executeTakeFirst();
      if (kp?.key_type && !['rsa', 'ec', 'dsa'].includes(kp.key_type))
        throw ValidationError.field('signing_kp', 'Only RSA, EC, and DSA key types are supported for SAML signing.');
    }
    // back-channel logout needs the POST SLS binding (authentik corrects it)
    if (merged.logout_method === 'backchannel' && merged.sls_binding === 'redirect') data.logout_method = 'frontchannel_iframe';
  },
  renderMore(svc, o, req) {
    const base = baseUrlOf(req, svc.config);
    const slug = (o.assigned_application_slug as string | null) ?? null;
    return { ...samlUrls(base, o.pk as number, slug), url_issuer: issuerOf(o as { issuer_override: string }, base, slug) };
  },
  atStart: ensureManagedSamlMappings,
  userGrantTables: ['saml_sessions'],
  stages: [sessionEndStage, nativeLogoutStage],
  // authentik's SAMLProvider.launch_url: the IdP-initiated login
  async launchUrl(db, row) {
    const app = await db.selectFrom('applications').select('slug').where('provider', '=', row.id).executeTakeFirst();
    return app ? `/application/saml/${app.slug}/sso/binding/init/` : null;
  },
  routes(router, svc) {
    mountSamlAdmin(router, svc);
    mountSamlImport(router, svc);
    mountSamlProtocol(router.app, svc);
  },
};
