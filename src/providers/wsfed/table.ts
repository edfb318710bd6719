/** The WS-Federation provider's settings table (migration provider_wsfed_0001), keyed by providers.id. */
import type {} from '../../crypto/table.js';
type Bool = number | boolean;

export interface ProviderWsfedTable {
  provider_id: number;
  reply_url: string;
  wtrealm: string;
  assertion_valid_not_before: string;
  assertion_valid_not_on_or_after: string;
  session_valid_not_on_or_after: string;
  name_id_mapping: string | null;
  authn_context_class_ref_mapping: string | null;
  saml_version: string;
  digest_algorithm: string;
  signature_algorithm: string;
  signing_kp: string | null;
  encryption_kp: string | null;
  sign_assertion: Bool;
  sign_logout_request: Bool;
  default_name_id_policy: string;
}

declare module '../../db/types.js' {
  interface Database {
    provider_wsfed: ProviderWsfedTable;
  }
}
