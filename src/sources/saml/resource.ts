/**
 * /sources/saml/ (authentik's SAMLSourceViewSet) with `metadata/`. The base row is in `sources`, the SAML settings in
 * `saml_sources`.
 */
import { mountResource, type ResourceDef, type WriteCtx } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { apiToRow } from '../../rest/serialize.js';
import { requireCaller } from '../../rest/auth.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import { can } from '../../rbac/check.js';
import type { ColumnReference } from '../../rest/references.js';
import { requestOrigin } from '../../brands/links.js';
import { pemsOf } from '../../crypto/keys.js';
import type { Services } from '../../services.js';
import { baseSourceProps, GROUP_MATCHING_MODES } from '../schema.js';
import {
  checkMappings,
  columnDefaults,
  flowRef,
  type JsonListReference,
  sourceFilters,
  sourceKeyPairReferences,
  typedSourceResource,
} from '../resource.js';
import { type SourceTypeDef, typeCreate } from '../kinds.js';
import { BINDING_TYPES, SAML_COLUMNS, samlSourceProps } from './schema.js';
import { DIGEST_ALGORITHMS, NAME_ID, SIGNATURE_ALGORITHMS } from '../../saml/constants.js';
import { issuerOf, metadataOf, mountSamlSourceRoutes, samlSourceBySlug, type SamlSource } from './routes.js';
import { samlPath } from './paths.js';

const _KIND = 'samlsource';
const MAPPING_KIND = 'samlsourcepropertymapping';
const _props = { ...baseSourceProps, ...samlSourceProps };
type Row = SamlSource & { pk: string };

function samlColumns(data: Record<string, unknown>) {
  const own: Record<string, unknown> = {};
  for (const c of SAML_COLUMNS) if (data[c] !== undefined) own[c] = data[c];
  return apiToRow(samlSourceProps, own);
}

/** authentik's SAMLSourceSerializer.validate, and the key pairs able to do what they are named for */
async function validate(data: Record<string, unknown>, ctx: WriteCtx, existing?: Row) {
  await checkMappings(ctx.db, data, MAPPING_KIND);
  const merged = { ...(existing ?? {}), ...data } as Record<string, unknown>;
  const flag = (v: unknown) => v === true || v === 1;
  if (merged.verification_kp && !flag(merged.signed_assertion ?? true) && !flag(merged.signed_response ?? false))
    throw ValidationError.nonField(
      "With a Verification Certificate selected, at least one of 'Verify Assertion Signature' or 'Verify Response Signature' must be selected.",
    );
  const svc = { db: ctx.db } as Services;
  for (const [field, needsKey] of [
    ['signing_kp', true],
    ['encryption_kp', true],
    ['verification_kp', false],
  ] as const) {
    const kp = data[field];
    if (typeof kp !== 'string') continue;
    const pems = await pemsOf(svc, kp);
    if (pems && needsKey && !pems.privateKeyPem) throw ValidationError.field(field, 'This key pair has no private key.');
    if (pems && !pems.certificatePem) throw ValidationError.field(field, 'This key pair has no certificate.');
  }
  for (const url of ['sso_url', 'slo_url'] as const) {
    const v = data[url];
    if (typeof v === 'string' && v !== '' && !/^https?:\/\//i.test(v)) throw ValidationError.field(url, 'Enter a valid URL.');
  }
}

export function samlSourceResource(lists: () => JsonListReference[], columns: () => ColumnReference[]): ResourceDef<Row> {
  const own = (c: string) => ({ type: 'str' as const, column: `x.${c}` });
  const flag = (c: string) => ({ type: 'bool' as const, column: `x.${c}` });
  const keypair = (c: string) => ({
    type: 'fk' as const,
    column: `x.${c}`,
    ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
  });
  return typedSourceResource<Row>({
    type: 'saml',
    label: 'SAML',
    table: 'saml_sources',
    alias: 'x',
    props: samlSourceProps,
    filters: {
      ...sourceFilters,
      pre_authentication_flow: { type: 'fk', column: 'x.pre_authentication_flow', ref: flowRef },
      group_matching_mode: { type: 'enum', column: 'x.group_matching_mode', values: [...GROUP_MATCHING_MODES] },
      issuer_override: own('issuer_override'),
      sso_url: own('sso_url'),
      slo_url: own('slo_url'),
      allow_idp_initiated: flag('allow_idp_initiated'),
      force_authn: flag('force_authn'),
      signed_assertion: flag('signed_assertion'),
      signed_response: flag('signed_response'),
      name_id_policy: { type: 'enum', column: 'x.name_id_policy', values: Object.values(NAME_ID) },
      binding_type: { type: 'enum', column: 'x.binding_type', values: [...BINDING_TYPES] },
      digest_algorithm: { type: 'enum', column: 'x.digest_algorithm', values: [...DIGEST_ALGORITHMS] },
      signature_algorithm: { type: 'enum', column: 'x.signature_algorithm', values: [...SIGNATURE_ALGORITHMS] },
      temporary_user_delete_after: own('temporary_user_delete_after'),
      signing_kp: keypair('signing_kp'),
      verification_kp: keypair('verification_kp'),
    },
    icon: '/static/authentik/sources/saml.png',
    extra: (r, out, req) => {
      out.url_issuer = issuerOf(r, req);
    },
    validate,
    writes: {
      columns: (_db: unknown, data: Record<string, unknown>) => samlColumns(data),
      defaults: columnDefaults(samlSourceProps, SAML_COLUMNS),
    },
    lists,
    references: columns,
  });
}

export function mountSamlSource(router: ApiRouter, svc: Services, lists: () => JsonListReference[], columns: () => ColumnReference[]) {
  router.component('SAMLMetadata', {
    type: 'object',
    description: 'SAML Provider Metadata serializer',
    properties: { metadata: { type: 'string' }, download_url: { type: 'string', nullable: true } },
    required: ['metadata'],
  } as never);
  router.route(
    '/sources/saml/{slug}/metadata',
    {
      get: {
        doc: { operationId: 'sources_saml_metadata_retrieve', tag: 'sources', response: 'SAMLMetadata' },
        handler: async (req) => {
          const caller = requireCaller(req);
          const row = await samlSourceBySlug(svc, (req.params as { slug: string }).slug);
          if (!row) throw NotFound.plain();
          if (!(await can(svc.db, caller, 'authentik_sources_saml.view_samlsource', row.source_uuid))) throw Forbidden.permission();
          return {
            metadata: await metadataOf(svc, row, req),
            download_url: `${requestOrigin(req)}${samlPath(row.slug, 'metadata/')}`,
          };
        },
      },
    },
    [{ name: 'slug', schema: { type: 'string', description: 'Internal source name, used in URLs.' } }],
  );
  mountResource(router, svc.db, samlSourceResource(lists, columns));
}

/**
 * The key pairs a SAML source names (the pairs' `used_by`). Deleting its verification certificate also disables the
 * source: it would otherwise go on accepting unsigned responses (authentik's SET_NULL; fail closed here).
 */
export const samlKeyPairReferences = (): ColumnReference[] =>
  sourceKeyPairReferences('saml', 'saml_sources', ['verification_kp', 'signing_kp', 'encryption_kp'], 'verification_kp');

export const samlSourceType: SourceTypeDef = {
  type: 'saml',
  label: 'SAML',
  creatable: () => [typeCreate(samlSourceType, 'Login using a SAML Identity Provider', 'saml.png')],
  userSettings: {
    component: 'ak-user-settings-source-saml',
    configurePath: (slug) => samlPath(slug),
    icon: '/static/authentik/sources/saml.png',
  },
  mount: (router, svc, refs) => mountSamlSource(router, svc, refs.lists, refs.columns),
  routes: mountSamlSourceRoutes,
  keyPairReferences: samlKeyPairReferences,
};
