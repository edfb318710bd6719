/** /providers/oauth2/{id}/setup_urls/ and /preview_user/: what the admin interface shows about a provider. */
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import type { UsersTable } from '../../db/types.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound } from '../../rest/errors.js';
import { can, hasGlobal, objectsWith } from '../../rbac/check.js';
import { parseDuration } from '../../rest/duration.js';
import { evaluateScopeMapping, scopeMappingsOf } from '../mappings.js';
import { oauth2ProviderById, type OAuth2Provider } from './config.js';
import { baseUrlOf, issuerOf, oauth2Urls } from './urls.js';
import { subjectOf } from './protocol/id-token.js';
import { FOR_USER_QUERY, previewedUser } from '../preview-user.js';
import { dcrOf, registrationUrl } from './dcr/store.js';

const idParam = [{ name: 'id', schema: { type: 'integer' } }];

/** the provider in the URL, for whoever may view it (authentik's ObjectFilter on a detail action: 403 if they may view none) */
async function providerOf(req: FastifyRequest, svc: Services): Promise<OAuth2Provider> {
  const caller = requireCaller(req);
  const perm = 'authentik_providers_oauth2.view_oauth2provider';
  if (!(await hasGlobal(svc.db, caller, perm)) && !(await objectsWith(svc.db, caller, perm)).size) throw Forbidden.permission();
  const raw = (req.params as { id: string }).id;
  const p = /^\d{1,9}$/.test(raw) ? await oauth2ProviderById(svc, Number(raw)) : undefined;
  if (!p || !(await can(svc.db, caller, perm, p.id))) throw NotFound.model('OAuth2Provider');
  return p;
}

export function mountOAuth2Admin(router: ApiRouter, svc: Services) {
  router.component('OAuth2ProviderSetupURLs', {
    type: 'object',
    description: 'OAuth2 Provider Metadata serializer',
    properties: {
      issuer: { type: 'string', readOnly: true },
      authorize: { type: 'string', readOnly: true },
      token: { type: 'string', readOnly: true },
      user_info: { type: 'string', readOnly: true },
      provider_info: { type: 'string', readOnly: true },
      logout: { type: 'string', readOnly: true },
      jwks: { type: 'string', readOnly: true },
      dcr_registration: { type: 'string', readOnly: true, nullable: true },
    },
    required: ['authorize', 'dcr_registration', 'issuer', 'jwks', 'logout', 'provider_info', 'token', 'user_info'],
  });
  router.component('PropertyMappingPreview', {
    type: 'object',
    description: 'Preview how the current user is mapped via the property mappings selected in a provider',
    properties: { preview: { type: 'object', additionalProperties: {}, readOnly: true } },
    required: ['preview'],
  });
  router.route(
    '/providers/oauth2/{id}/setup_urls',
    {
      get: {
        doc: { operationId: 'providers_oauth2_setup_urls_retrieve', tag: 'providers', response: 'OAuth2ProviderSetupURLs' },
        handler: async (req) => {
          const p = await providerOf(req, svc);
          // the per-application URLs need an application (authentik answers 404 without one)
          if (!p.application) throw NotFound.plain();
          const base = baseUrlOf(req, svc.config);
          const u = oauth2Urls(base, p.application.slug);
          return {
            issuer: issuerOf(base, p),
            authorize: u.authorize,
            token: u.token,
            user_info: u.userinfo,
            provider_info: u.providerInfo,
            logout: u.endSession,
            jwks: u.jwks,
            dcr_registration: (await dcrOf(svc, p.id)) ? registrationUrl(base, p.application.slug) : null,
          };
        },
      },
    },
    idParam,
  );
  router.route(
    '/providers/oauth2/{id}/preview_user',
    {
      get: {
        doc: {
          operationId: 'providers_oauth2_preview_user_retrieve',
          tag: 'providers',
          query: FOR_USER_QUERY,
          response: 'PropertyMappingPreview',
        },
        handler: async (req) => {
          const p = await providerOf(req, svc);
          const user = await previewedUser(svc, req);
          return { preview: await previewToken(svc, req, p, user) };
        },
      },
    },
    idParam,
  );
}

/** the ID token the user would get with every scope of the provider (authentik's preview: IDToken.new(…).to_dict()) */
async function previewToken(svc: Services, req: FastifyRequest, p: OAuth2Provider, user: UsersTable) {
  const now = Math.floor(Date.now() / 1000);
  const validity = Math.floor((parseDuration(p.access_token_validity) ?? 3_600_000) / 1000);
  const token: Record<string, unknown> = {};
  const iss = issuerOf(baseUrlOf(req, svc.config), p);
  if (iss !== null) token.iss = iss;
  token.sub = subjectOf(p.sub_mode, user, svc.installId);
  token.aud = p.client_id;
  token.exp = now + validity;
  token.iat = now;
  token.auth_time = now;
  token.acr = 'goauthentik.io/providers/oauth2/default';
  if (p.include_claims_in_id_token) {
    const mappings = await scopeMappingsOf(svc, p.property_mappings);
    for (const m of mappings) Object.assign(token, await evaluateScopeMapping(svc, m, { user, request: req, provider: p }));
  }
  return token;
}
