/**
 * A provider's dynamic client registration settings (authentik's OAuth2DynamicClientRegistration, a policy-binding
 * target; migration provider_oauth2_0004): one row per OAuth2 provider at most.
 */
export interface ProviderOAuth2DcrTable {
  pbm_uuid: string;
  /** provider_oauth2.provider_id (unique) */
  provider_id: number;
  default_application_group: string;
  /** flows.flow_uuid, or null: the provider's own */
  override_authorization_flow: string | null;
  override_invalidation_flow: string | null;
  /** JSON list of scope mappings' pm_uuid; empty: the provider's own */
  override_property_mappings: string;
  access_token_validity: string;
  refresh_token_validity: string;
  /** JSON list of grant types; empty: all of them */
  allowed_grant_types: string;
  policy_engine_mode: string;
}

declare module '../../../db/types.js' {
  interface Database {
    provider_oauth2_dcr: ProviderOAuth2DcrTable;
  }
}
