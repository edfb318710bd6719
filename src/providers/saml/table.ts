/** The SAML provider's settings table (migration provider_saml_0001), keyed by providers.id. */
import type { Generated } from 'kysely';
import type {} from '../../crypto/table.js';
type Bool = number | boolean;

export interface ProviderSamlTable {
  provider_id: number;
  acs_url: string;
  sls_url: string;
  audience: string;
  issuer_override: string;
  assertion_valid_not_before: string;
  assertion_valid_not_on_or_after: string;
  session_valid_not_on_or_after: string;
  name_id_mapping: string | null;
  authn_context_class_ref_mapping: string | null;
  digest_algorithm: string;
  signature_algorithm: string;
  signing_kp: string | null;
  verification_kp: string | null;
  encryption_kp: string | null;
  sign_assertion: Bool;
  sign_response: Bool;
  sign_logout_request: Bool;
  sign_logout_response: Bool;
  sp_binding: string;
  sls_binding: string;
  logout_method: string;
  default_relay_state: string;
  default_name_id_policy: string;
}

/** a session a service provider holds (authentik's SAMLSession), ended with the Keystage session it came from */
export interface SamlSessionsTable {
  id: Generated<number>;
  provider_id: number;
  user_id: number;
  /** the SHA-256 of the Keystage session's key */
  session_id: string;
  session_index: string;
  name_id: string;
  name_id_format: string;
  issuer: string;
  expires: string;
  created: string;
}

declare module '../../db/types.js' {
  interface Database {
    provider_saml: ProviderSamlTable;
    saml_sessions: SamlSessionsTable;
  }
}
