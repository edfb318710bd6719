/** The OAuth2/OpenID provider's settings table (migration provider_oauth2_0001), keyed by providers.id. */
import type {} from '../../crypto/table.js';
type Bool = number | boolean;

export interface ProviderOAuth2Table {
  provider_id: number;
  client_type: string;
  client_id: string;
  /** sealed at rest (src/instance/secrets.ts) */
  client_secret: string;
  /** JSON list of grant types */
  grant_types: string;
  /** JSON list of `{matching_mode, url, redirect_uri_type}` */
  redirect_uris: string;
  logout_uri: string;
  logout_method: string;
  include_claims_in_id_token: Bool;
  access_code_validity: string;
  access_token_validity: string;
  refresh_token_validity: string;
  refresh_token_threshold: string;
  sub_mode: string;
  issuer_mode: string;
  /** crypto_certificatekeypairs.kp_uuid */
  signing_key: string | null;
  encryption_key: string | null;
  /** JSON lists: the sources and other providers whose JWTs a client assertion or a token exchange's subject may be */
  jwt_federation_sources: string;
  jwt_federation_providers: string;
}

declare module '../../db/types.js' {
  interface Database {
    provider_oauth2: ProviderOAuth2Table;
  }
}
