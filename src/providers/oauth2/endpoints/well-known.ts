/**
 * The per-application documents: `/application/o/<slug>/.well-known/openid-configuration` (authentik's
 * ProviderInfoView; `/application/o/<slug>/` redirects to it) and `/application/o/<slug>/jwks/` (JWKSView).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { JsonObject } from '../../../expressions/index.js';
import type { UsersTable } from '../../../db/types.js';
import type { Services } from '../../../services.js';
import { evaluateScopeMapping } from '../../mappings.js';
import { oauth2ProviderByAppSlug } from '../config.js';
import { claimsSupported, discoveryDocument } from '../protocol/discovery.js';
import { jwksDocument } from '../protocol/jwks.js';
import { signerOf } from '../protocol/sign.js';
import { cachedAdminData } from '../../../db/admin-cache.js';
import { mappingsOf } from './claims.js';
import { corsAllow, originOf } from './http.js';
import { keyLookupOf } from './keys.js';
import { dcrOf, registrationUrl } from '../dcr/store.js';

const NOT_FOUND = '<h1>Not Found</h1>';

/** authentik's anonymous user, as the discovery document's claims are computed for it */
const ANONYMOUS: UsersTable = {
  id: 0,
  uuid: '00000000-0000-0000-0000-000000000000',
  username: 'AnonymousUser',
  name: '',
  email: '',
  password: '',
  is_active: 1,
  last_login: null,
  date_joined: new Date(0).toISOString(),
  path: 'users',
  type: 'internal',
  attributes: '{}',
  password_change_date: new Date(0).toISOString(),
  last_updated: new Date(0).toISOString(),
};

const slugOf = (req: FastifyRequest) => (req.params as { slug: string }).slug;

export async function discoveryEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const slug = slugOf(req);
  const provider = await oauth2ProviderByAppSlug(svc, slug);
  if (!provider) return reply.code(404).type('text/html').send(NOT_FOUND);
  const mappings = await mappingsOf(svc, provider);
  // the claims the mappings yield (for the anonymous user), evaluated once per configuration (authentik caches them)
  const claims = await cachedAdminData(svc.db, `oauth2:claims:${provider.id}`, async () => {
    const results: JsonObject[] = [];
    for (const m of mappings) results.push((await evaluateScopeMapping(svc, m, { user: ANONYMOUS, provider })) as JsonObject);
    return claimsSupported(results);
  });
  const signer = await signerOf(provider, keyLookupOf(svc));
  const origin = originOf(req, svc.config);
  const doc = discoveryDocument({
    origin,
    ...((await dcrOf(svc, provider.id)) ? { registration: registrationUrl(origin, slug) } : {}),
    provider,
    appSlug: slug,
    alg: signer.alg,
    scopes: mappings.map((m) => m.scope_name),
    claims,
  });
  corsAllow(req, reply, provider.redirect_uris);
  return reply
    .code(200)
    .type('application/json')
    .send(JSON.stringify(doc, null, 2));
}

export async function jwksEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await oauth2ProviderByAppSlug(svc, slugOf(req));
  if (!provider) return reply.code(404).type('text/html').send(NOT_FOUND);
  const keys = keyLookupOf(svc);
  const signing = provider.signing_key ? await keys.signingKeyOf(provider.signing_key) : undefined;
  const encryption = provider.encryption_key ? await keys.publicKeyOf(provider.encryption_key) : undefined;
  return reply
    .code(200)
    .header('access-control-allow-origin', '*')
    .type('application/json')
    .send(JSON.stringify(jwksDocument(signing, encryption)));
}
