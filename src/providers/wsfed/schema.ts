/**
 * The WS-Federation provider's fields (authentik's WSFederationProviderSerializer, 2026.8: a SAML provider whose ACS
 * URL is the `reply_url` and whose audience is the `wtrealm`) and its list filters (authentik's, inherited from the
 * SAML provider: the SAML settings a WS-Federation provider does not have filter as their defaults).
 */
import { sql } from 'kysely';
import { S } from '../../rest/schema.js';
import type { FilterSpec } from '../../rest/list.js';
import type { ProviderDef } from '../types.js';
import { backchannelFilters } from '../resource.js';
import { DIGEST_ALGORITHMS, SIGNATURE_ALGORITHMS } from '../../saml/constants.js';
import { LOGOUT_METHODS, NAME_ID_POLICIES, SAML_BINDINGS, samlSchema } from '../saml/index.js';
import { wsfedMigrations } from './migrations.js';

export const SAML_VERSIONS = ['1.1', '2.0'] as const;

const saml = samlSchema.fields;
const url = (description: string) => S.ro(S.text({ 'x-computed': true, description }));

/** a SAML setting the WS-Federation provider does not have: it filters as its SAML default (authentik's inherited column) */
function constantFilter(value: string, schema: Record<string, unknown> = { type: 'string' }): FilterSpec {
  return {
    type: 'custom',
    schema,
    parse: (values) => {
      const v = values.at(-1);
      if (v === undefined || v === '') return { cond: undefined };
      return { cond: () => (v === value ? sql<boolean>`1 = 1` : sql<boolean>`1 = 0`) };
    },
  };
}

export const wsfedSchema = {
  kind: 'wsfederationprovider',
  app: 'authentik_providers_ws_federation',
  model: 'WSFederationProvider',
  path: 'wsfed',
  table: 'provider_wsfed',
  component: 'ak-provider-wsfed-form',
  verboseName: 'WS-Federation Provider',
  verboseNamePlural: 'WS-Federation Providers',
  description: 'WS-Federation for applications which support WS-Fed.',
  iconUrl: '/static/authentik/sources/wsfed.svg',
  requiredBase: ['authorization_flow', 'invalidation_flow'],
  keyPairColumns: ['signing_kp', 'encryption_kp'],
  fields: {
    reply_url: S.str({ format: 'uri' }),
    wtrealm: S.str(),
    assertion_valid_not_before: saml.assertion_valid_not_before,
    assertion_valid_not_on_or_after: saml.assertion_valid_not_on_or_after,
    session_valid_not_on_or_after: saml.session_valid_not_on_or_after,
    name_id_mapping: saml.name_id_mapping,
    authn_context_class_ref_mapping: saml.authn_context_class_ref_mapping,
    saml_version: S.enumOf(SAML_VERSIONS, {
      default: '2.0',
      description:
        'SAML assertion version to issue in the security token. Microsoft Entra ID and classic ADFS-style relying parties typically require SAML 1.1.',
    }),
    digest_algorithm: saml.digest_algorithm,
    signature_algorithm: saml.signature_algorithm,
    signing_kp: saml.signing_kp,
    encryption_kp: saml.encryption_kp,
    sign_assertion: saml.sign_assertion,
    sign_logout_request: saml.sign_logout_request,
    default_name_id_policy: saml.default_name_id_policy,
    url_download_metadata: url('Get metadata download URL'),
    url_wsfed: url('Get WS-Fed url'),
    url_issuer: url('Get Issuer/EntityID URL'),
  },
  filters: {
    authentication_flow: { type: 'uuid', column: 'p.authentication_flow' },
    invalidation_flow: { type: 'uuid', column: 'p.invalidation_flow' },
    ...backchannelFilters,
    acs_url: { type: 'str', column: 't.reply_url' },
    audience: { type: 'str', column: 't.wtrealm' },
    assertion_valid_not_before: { type: 'str', column: 't.assertion_valid_not_before' },
    assertion_valid_not_on_or_after: { type: 'str', column: 't.assertion_valid_not_on_or_after' },
    session_valid_not_on_or_after: { type: 'str', column: 't.session_valid_not_on_or_after' },
    name_id_mapping: { type: 'uuid', column: 't.name_id_mapping' },
    authn_context_class_ref_mapping: { type: 'uuid', column: 't.authn_context_class_ref_mapping' },
    saml_version: { type: 'enum', column: 't.saml_version', values: SAML_VERSIONS },
    digest_algorithm: { type: 'enum', column: 't.digest_algorithm', values: DIGEST_ALGORITHMS },
    signature_algorithm: { type: 'enum', column: 't.signature_algorithm', values: SIGNATURE_ALGORITHMS },
    signing_kp: { type: 'uuid', column: 't.signing_kp' },
    encryption_kp: { type: 'uuid', column: 't.encryption_kp' },
    sign_assertion: { type: 'bool', column: 't.sign_assertion' },
    sign_logout_request: { type: 'bool', column: 't.sign_logout_request' },
    default_name_id_policy: { type: 'enum', column: 't.default_name_id_policy', values: NAME_ID_POLICIES },
    // (SAML settings a WS-Federation provider does not have, at their SAML defaults)
    sls_url: constantFilter(''),
    issuer_override: constantFilter(''),
    default_relay_state: constantFilter(''),
    verification_kp: constantFilter('', { type: 'string', format: 'uuid' }),
    sign_response: constantFilter('false', { type: 'boolean' }),
    sign_logout_response: constantFilter('false', { type: 'boolean' }),
    sp_binding: constantFilter('redirect', { type: 'string', enum: [...SAML_BINDINGS] }),
    sls_binding: constantFilter('redirect', { type: 'string', enum: [...SAML_BINDINGS] }),
    logout_method: constantFilter('frontchannel_iframe', { type: 'string', enum: [...LOGOUT_METHODS] }),
  },
  migrations: wsfedMigrations,
} satisfies Omit<ProviderDef, 'validate'>;
