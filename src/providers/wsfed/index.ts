/**
 * The WS-Federation provider type (authentik 2026's WSFederationProvider, a SAML provider for WS-Fed relying parties
 * such as SharePoint): its schema, `/providers/wsfed/{id}/metadata/` and `preview_user/`, and the protocol at
 * `/application/wsfed/` (endpoint.ts) with each application's metadata at `/application/wsfed/<slug>/metadata/`.
 */
import { endWsfedSessionsWithSessions } from './logout.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { pemsOf } from '../../crypto/keys.js';
import { can, hasGlobal, objectsWith } from '../../rbac/check.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import { baseUrlOf } from '../../rest/http.js';
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import type { ProviderDef } from '../types.js';
import { metadataId, samlPreview } from '../saml/index.js';
import { type WsfedProvider, wsfedProviderByAppSlug, wsfedProviderById } from './config.js';
import { wsfedEndpoint, wsfedFulfilEndpoint, wsfedIssuer } from './endpoint.js';
import { wsfedMetadata } from './metadata.js';
import { wsfedSchema } from './schema.js';
import { FOR_USER_QUERY, previewedUser } from '../preview-user.js';

const idParam = [
  { name: 'id', schema: { type: 'integer', description: 'A unique integer value identifying this WS-Federation Provider.' } },
];
const metadataUrl = (base: string, pk: number, slug: string | null) =>
  slug === null ? `${base}/api/v3/providers/wsfed/${pk}/metadata/?download` : `${base}/application/wsfed/${slug}/metadata/`;

/** the provider's metadata document */
async function metadataOf(svc: Services, req: FastifyRequest, p: WsfedProvider & { application: { slug: string } }): Promise<string> {
  const base = baseUrlOf(req, svc.config);
  const pems = p.signing_kp ? await pemsOf(svc, p.signing_kp) : undefined;
  return wsfedMetadata({
    id: metadataId(p.name, p.id),
    entityId: wsfedIssuer(base, p.application.slug),
    endpoint: `${base}/application/wsfed/`,
    ...(pems?.privateKeyPem ? { signing: pems } : {}),
    ...(pems ? { signingCertificatePem: pems.certificatePem } : {}),
    algorithms: { signature: p.signature_algorithm, digest: p.digest_algorithm },
  });
}

const download = (reply: import('fastify').FastifyReply, p: { name: string }, xml: string) =>
  reply
    .type('application/xml')
    .header('content-disposition', `attachment; filename="${p.name.replace(/["\\\r\n]/g, '_')}_authentik_meta.xml"`)
    .send(xml);

function mountWsfedAdmin(router: ApiRouter, svc: Services) {
  router.route(
    '/providers/wsfed/{id}/metadata',
    {
      get: {
        doc: {
          operationId: 'providers_wsfed_metadata_retrieve',
          tag: 'providers',
          query: [
            { name: 'download', schema: { type: 'boolean' } },
            {
              name: 'force_binding',
              schema: { type: 'string', description: 'Optionally force the metadata to only include one binding.' },
            },
          ],
          response: 'SAMLMetadata',
        },
        handler: async (req, reply) => {
          // (un-authenticated, as authentik's metadata)
          const raw = (req.params as { id: string }).id;
          const p = /^\d{1,9}$/.test(raw) ? await wsfedProviderById(svc, Number(raw)) : undefined;
          if (!p) throw NotFound.model('WSFederationProvider');
          if (!p.application) throw NotFound.plain();
          const xml = await metadataOf(svc, req, p as WsfedProvider & { application: { slug: string } });
          if ((req.query as Record<string, unknown>).download !== undefined) return download(reply, p, xml);
          return { metadata: xml, download_url: metadataUrl(baseUrlOf(req, svc.config), p.id, p.application.slug) };
        },
      },
    },
    idParam,
  );
  router.route(
    '/providers/wsfed/{id}/preview_user',
    {
      get: {
        doc: {
          operationId: 'providers_wsfed_preview_user_retrieve',
          tag: 'providers',
          query: FOR_USER_QUERY,
          response: 'PropertyMappingPreview',
        },
        handler: async (req) => {
          const caller = requireCaller(req);
          const perm = 'authentik_providers_ws_federation.view_wsfederationprovider';
          if (!(await hasGlobal(svc.db, caller, perm)) && !(await objectsWith(svc.db, caller, perm)).size) throw Forbidden.permission();
          const raw = (req.params as { id: string }).id;
          const p = /^\d{1,9}$/.test(raw) ? await wsfedProviderById(svc, Number(raw)) : undefined;
          if (!p || !(await can(svc.db, caller, perm, p.id))) throw NotFound.model('WSFederationProvider');
          const user = await previewedUser(svc, req);
          return { preview: await samlPreview(svc, req, p, user) };
        },
      },
    },
    idParam,
  );
}

function mountWsfedProtocol(app: FastifyInstance, svc: Services) {
  app.register(async (scope) => {
    const config = { noConfigWrites: true };
    scope.get('/application/wsfed/', { config }, (req, reply) => wsfedEndpoint(svc, req, reply));
    scope.get('/application/wsfed/fulfil/:key/', { config }, (req, reply) => wsfedFulfilEndpoint(svc, req, reply));
    scope.get('/application/wsfed/:slug/metadata/', { config }, async (req, reply) => {
      const p = await wsfedProviderByAppSlug(svc, (req.params as { slug: string }).slug);
      if (!p?.application) return reply.code(404).type('text/html').send('<h1>Not Found</h1>');
      return download(reply, p, await metadataOf(svc, req, p as WsfedProvider & { application: { slug: string } }));
    });
  });
}

export const wsfedProvider: ProviderDef = {
  ...wsfedSchema,
  describe: (name) => `WS-Federation Provider ${name}`,
  validate(data, _ctx, existing) {
    const merged = { ...existing, ...data } as Record<string, unknown>;
    const on = (v: unknown) => v === true || v === 1;
    // (a signing key pair that signs nothing: as the SAML provider's rule, with the one signature WS-Fed has)
    if (merged.signing_kp && !on(merged.sign_assertion))
      throw new ValidationError({ non_field_errors: ["With a signing keypair selected, 'Sign assertion' must be selected."] });
  },
  renderMore(svc, o, req) {
    const base = baseUrlOf(req, svc.config);
    const slug = (o.assigned_application_slug as string | null) ?? null;
    return {
      url_download_metadata: metadataUrl(base, o.pk as number, slug),
      url_wsfed: `${base}/application/wsfed/`,
      url_issuer: slug === null ? '' : wsfedIssuer(base, slug),
    };
  },
  // authentik's launch URL for it: none (the relying party starts the sign-in)
  launchUrl: () => null,
  routes(router, svc) {
    mountWsfedAdmin(router, svc);
    mountWsfedProtocol(router.app, svc);
    endWsfedSessionsWithSessions(svc);
  },
};
