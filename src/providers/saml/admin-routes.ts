/**
 * /providers/saml/{id}/metadata/ (anyone, as authentik's AllowAny: the identity provider's metadata, as JSON or as a
 * file with `download`) and /providers/saml/{id}/preview_user/ (the NameID and attributes a user would get).
 */
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import type { UsersTable } from '../../db/types.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import { can, hasGlobal, objectsWith } from '../../rbac/check.js';
import { baseUrlOf } from '../../rest/http.js';
import { pemsOf } from '../../crypto/keys.js';
import { uidOf } from '../../users/render.js';
import { BINDING_POST, BINDING_REDIRECT } from '../../saml/constants.js';
import { idpInitiated } from './authn-request.js';
import { nameIdText } from './assertion.js';
import { attributesFor, mappingValue, samlMappingById } from './attributes.js';
import { pyStr } from '../../expressions/py-str.js';
import { type SamlProvider, samlProviderById } from './config.js';
import { idpMetadata, metadataId } from './metadata.js';
import { issuerOf, samlUrls } from './urls.js';
import { FOR_USER_QUERY, previewedUser } from '../preview-user.js';
import { lastValue } from '../../rest/routes.js';

const idParam = [{ name: 'id', schema: { type: 'integer', description: 'A unique integer value identifying this SAML Provider.' } }];

/** the provider's metadata document (its application's URLs) */
export async function metadataOf(svc: Services, req: FastifyRequest, p: SamlProvider, forceBinding?: string): Promise<string> {
  const base = baseUrlOf(req, svc.config);
  const slug = p.application?.slug ?? null;
  const pems = p.signing_kp ? await pemsOf(svc, p.signing_kp) : undefined;
  // (a key pair without its private key announces its certificate, unsigned)
  const signing = pems?.privateKeyPem ? pems : undefined;
  return idpMetadata({
    id: metadataId(p.name, p.id),
    entityId: issuerOf(p, base, slug),
    urls: samlUrls(base, p.id, slug),
    signing,
    signingCertificatePem: pems?.certificatePem,
    algorithms: { signature: p.signature_algorithm, digest: p.digest_algorithm },
    wantAuthnRequestsSigned: !!p.verification_kp,
    forceBinding,
  });
}

export function mountSamlAdmin(router: ApiRouter, svc: Services) {
  router.route(
    '/providers/saml/{id}/metadata',
    {
      get: {
        doc: {
          operationId: 'providers_saml_metadata_retrieve',
          tag: 'providers',
          query: [
            { name: 'download', schema: { type: 'boolean' } },
            {
              name: 'force_binding',
              schema: {
                type: 'string',
                enum: [BINDING_POST, BINDING_REDIRECT],
                description: 'Optionally force the metadata to only include one binding.',
              },
            },
          ],
          response: 'SAMLMetadata',
        },
        handler: async (req, reply) => {
          // (un-authenticated, as authentik's)
          const raw = (req.params as { id: string }).id;
          const p = /^\d{1,9}$/.test(raw) ? await samlProviderById(svc, Number(raw)) : undefined;
          if (!p) throw NotFound.model('SAMLProvider');
          if (!p.application) throw NotFound.plain();
          const q = req.query as Record<string, string | string[] | undefined>;
          const force = lastValue(q.force_binding);
          if (force !== undefined && force !== BINDING_POST && force !== BINDING_REDIRECT)
            throw new ValidationError({ force_binding: [`"${force}" is not a valid choice.`] });
          const metadata = await metadataOf(svc, req, p, force);
          if (q.download !== undefined)
            return reply
              .type('application/xml')
              .header('content-disposition', `attachment; filename="${p.name.replace(/["\\\r\n]/g, '_')}_authentik_meta.xml"`)
              .send(metadata);
          return { metadata, download_url: samlUrls(baseUrlOf(req, svc.config), p.id, p.application.slug).url_download_metadata };
        },
      },
    },
    idParam,
  );
  router.route(
    '/providers/saml/{id}/preview_user',
    {
      get: {
        doc: {
          operationId: 'providers_saml_preview_user_retrieve',
          tag: 'providers',
          query: FOR_USER_QUERY,
          response: 'PropertyMappingPreview',
        },
        handler: async (req) => {
          const caller = requireCaller(req);
          const perm = 'authentik_providers_saml.view_samlprovider';
          if (!(await hasGlobal(svc.db, caller, perm)) && !(await objectsWith(svc.db, caller, perm)).size) throw Forbidden.permission();
          const raw = (req.params as { id: string }).id;
          const p = /^\d{1,9}$/.test(raw) ? await samlProviderById(svc, Number(raw)) : undefined;
          if (!p || !(await can(svc.db, caller, perm, p.id))) throw NotFound.model('SAMLProvider');
          const user = await previewedUser(svc, req);
          return { preview: await samlPreview(svc, req, p, user) };
        },
      },
    },
    idParam,
  );
}

/** authentik's preview: each attribute as `{Value: [...], Name, FriendlyName?}` and the NameID */
export async function samlPreview(svc: Services, req: FastifyRequest, p: SamlProvider, user: UsersTable) {
  const call = { user, request: req, provider: p };
  const attributes = await attributesFor(svc, call);
  let mapped: string | undefined;
  const mapping = p.name_id_mapping ? await samlMappingById(svc, p.name_id_mapping) : undefined;
  if (mapping) {
    const r = await mappingValue(svc, mapping, call);
    if (r && r.value !== null && r.value !== undefined) mapped = pyStr(r.value);
  }
  let userAttributes: Record<string, unknown> = {};
  try {
    userAttributes = JSON.parse(user.attributes || '{}');
  } catch {}
  let nameID: string;
  try {
    nameID = nameIdText({
      format: idpInitiated(p).name_id_policy,
      uid: uidOf(user.id, svc.installId),
      email: user.email,
      attributes: userAttributes,
      sessionKey: '',
      mapped,
    });
  } catch {
    nameID = uidOf(user.id, svc.installId);
  }
  return {
    attributes: attributes.map((a) => ({ Value: a.values, ...(a.FriendlyName ? { FriendlyName: a.FriendlyName } : {}), Name: a.Name })),
    nameID,
  };
}
