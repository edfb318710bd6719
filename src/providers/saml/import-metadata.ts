/**
 * POST /providers/saml/import_metadata/ (authentik's import_metadata, multipart): a provider made from a service
 * provider's metadata file (sp-metadata.ts) — its ACS URL and binding, SLS, NameID policy; its signing certificate as
 * the verification certificate when it signs its requests, its encryption certificate, each stored as a key pair
 * without a private key; the first key pair with a private key as the signing key pair when it wants signed
 * assertions; authentik's managed SAML mappings. The SP's entity ID becomes the `audience` (authentik puts it in the
 * provider's own issuer, which would make Keystage announce the service provider's name as its own). Written in one
 * transaction through the provider resource's own validation; 201 with the provider.
 */
import { lockConfigEpoch } from '../../db/config-epoch.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, ValidationError } from '../../rest/errors.js';
import { acceptMultipart } from '../../rest/multipart.js';
import { type WritableModel, writeWithin } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { hasGlobal } from '../../rbac/check.js';
import { insertKeyPair } from '../../crypto/resource.js';
import { attachSecrets, secretsOf } from '../../instance/secrets.js';
import { invalidateAdminCache } from '../../db/admin-cache.js';
import { SamlError } from '../../saml/xml.js';
import type { Services } from '../../services.js';
import { InvalidXml, parseSpMetadata } from './sp-metadata.js';

const UPLOAD_LIMIT = 1024 * 1024;
const UUID = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;

export function mountSamlImport(router: ApiRouter, svc: Services) {
  router.component('SAMLProviderImportRequest', {
    type: 'object',
    description: 'Import saml provider from XML Metadata',
    properties: {
      name: { type: 'string', minLength: 1 },
      authorization_flow: { type: 'string', format: 'uuid' },
      invalidation_flow: { type: 'string', format: 'uuid' },
      file: { type: 'string', format: 'binary' },
    },
    required: ['authorization_flow', 'file', 'invalidation_flow', 'name'],
  });
  router.app.register(async (scope) => {
    acceptMultipart(scope, UPLOAD_LIMIT);
    router.within(scope).route('/providers/saml/import_metadata', {
      post: {
        doc: {
          operationId: 'providers_saml_import_metadata_create',
          tag: 'providers',
          body: 'SAMLProviderImportRequest',
          bodyType: 'multipart/form-data',
          response: 'SAMLProvider',
          status: 201,
        },
        handler: async (req, reply) => {
          const caller = requireCaller(req);
          for (const perm of ['authentik_providers_saml.add_samlprovider', 'authentik_crypto.add_certificatekeypair'])
            if (!caller.superuser && !(await hasGlobal(svc.db, caller, perm))) throw Forbidden.permission();
          const form = req.body instanceof FormData ? req.body : new FormData();
          const errors: Record<string, string[]> = {};
          const name = form.get('name');
          if (typeof name !== 'string' || name.trim() === '')
            errors.name = [name === null ? 'This field is required.' : 'This field may not be blank.'];
          const flows: Record<string, string> = {};
          for (const [field, designation] of [
            ['authorization_flow', 'authorization'],
            ['invalidation_flow', 'invalidation'],
          ] as const) {
            const v = form.get(field);
            if (v === null || v === '') errors[field] = ['This field is required.'];
            else if (typeof v !== 'string' || !UUID.test(v)) errors[field] = [`“${String(v)}” is not a valid UUID.`];
            else {
              const flow = await svc.db
                .selectFrom('flows')
                .select('flow_uuid')
                .where('flow_uuid', '=', v.toLowerCase())
                .where('designation', '=', designation)
                .executeTakeFirst();
              if (!flow) errors[field] = [`Invalid pk "${v}" - object does not exist.`];
              else flows[field] = flow.flow_uuid;
            }
          }
          const file = form.get('file');
          if (file === null || typeof file === 'string') errors.file = ['No file was submitted.'];
          if (Object.keys(errors).length) throw new ValidationError(errors);
          let md: ReturnType<typeof parseSpMetadata>;
          try {
            md = parseSpMetadata(await (file as File).text());
          } catch (e) {
            if (e instanceof InvalidXml) throw new ValidationError(['Invalid XML Syntax']);
            if (e instanceof SamlError) throw new ValidationError([`Failed to import Metadata: ${e.message}`]);
            throw e;
          }
          const model = router.models.get('authentik_providers_saml.samlprovider') as WritableModel;
          const providerName = (name as string).trim();
          // (the certificates' key pairs take names from the provider's: one taken is the name's problem)
          const secrets = secretsOf(svc.db);
          const id = await svc.db.transaction().execute(async (tx) => {
            // under the admin-write lock, so that an import sent twice at once cannot both find the names free
            await lockConfigEpoch(tx);
            const taken = await tx
              .selectFrom('crypto_certificatekeypairs')
              .select('name')
              .where('name', 'in', [
                `Provider ${providerName} - SAML Signing Certificate`,
                `Provider ${providerName} - SAML Encryption Certificate`,
              ])
              .executeTakeFirst();
            if (taken) throw ValidationError.field('name', `A certificate-key pair named "${taken.name}" exists already.`);
            // (the resource seals and reads secrets through its ctx.db: here the transaction)
            attachSecrets(tx, secrets);
            const certificate = async (pem: string | null, what: string) =>
              pem
                ? insertKeyPair(tx, secrets, { name: `Provider ${providerName} - SAML ${what} Certificate`, certificate: pem, keyPem: '' })
                : null;
            const verification = md.authn_requests_signed ? await certificate(md.signing_certificate, 'Signing') : null;
            const encryption = await certificate(md.encryption_certificate, 'Encryption');
            const signing = md.want_assertions_signed
              ? ((await tx
                  .selectFrom('crypto_certificatekeypairs')
                  .select('kp_uuid')
                  .where('key_data', '!=', '')
                  .orderBy('created')
                  .executeTakeFirst()
                  .then((r) => r?.kp_uuid)) ?? null)
              : null;
            const managed = await tx
              .selectFrom('property_mappings')
              .select('pm_uuid')
              .where('kind', '=', 'samlpropertymapping')
              .where('managed', 'is not', null)
              .execute();
            return writeWithin(
              tx,
              model.def,
              {
                name: providerName,
                authorization_flow: flows.authorization_flow,
                invalidation_flow: flows.invalidation_flow,
                acs_url: md.acs_url,
                sp_binding: 'post',
                audience: md.entity_id,
                default_name_id_policy: md.name_id_policy,
                ...(md.sls_url ? { sls_url: md.sls_url, sls_binding: md.sls_binding } : {}),
                verification_kp: verification,
                encryption_kp: encryption,
                signing_kp: signing,
                property_mappings: managed.map((m) => m.pm_uuid),
              },
              { caller, mode: 'create', req },
            );
          });
          invalidateAdminCache(svc.db);
          const row = await model.def
            .select(svc.db)
            .where('p.id' as never, '=', id as never)
            .executeTakeFirst();
          const out = (await model.def.render(svc.db, [row], req))[0]!;
          await model.audit(req, 'model_created', id, out);
          return reply.code(201).send(out);
        },
      },
    });
  });
}
