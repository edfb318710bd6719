/** The Shared Signals Framework provider's tables (migration provider_ssf_0001). */
import type {} from '../../crypto/table.js';
type Bool = number | boolean;

/** the provider's settings, keyed by providers.id */
export interface ProviderSsfTable {
  provider_id: number;
  signing_key: string | null;
  /** the provider's own API token (its service account's): receivers manage their streams with it */
  token_uuid: string | null;
  event_retention: string;
  push_verify_certificates: Bool;
}

/** authentik's `oidc_auth_providers`: OAuth2 providers whose access tokens may manage the provider's streams */
export interface ProviderSsfOidcAuthProvidersTable {
  provider_id: number;
  oauth2_provider_id: number;
}

/** a receiver's stream (authentik's Stream) */
export interface SsfStreamsTable {
  uuid: string;
  provider_id: number;
  status: string;
  delivery_method: string;
  endpoint_url: string | null;
  /** sent as the push's Authorization header; sealed at rest */
  authorization_header: string | null;
  /** JSON list of event type URIs */
  events_requested: string;
  format: string;
  /** JSON list */
  aud: string;
  iss: string;
  created: string;
}

/** a security event token for one stream (authentik's StreamEvent) */
export interface SsfStreamEventsTable {
  uuid: string;
  stream_uuid: string;
  /** pending_new, pending_failed, sent */
  status: string;
  type: string;
  /** the token's claims, JSON */
  payload: string;
  attempts: number;
  created: string;
  last_updated: string;
  expires: string;
}

declare module '../../db/types.js' {
  interface Database {
    provider_ssf: ProviderSsfTable;
    provider_ssf_oidc_auth_providers: ProviderSsfOidcAuthProvidersTable;
    ssf_streams: SsfStreamsTable;
    ssf_stream_events: SsfStreamEventsTable;
  }
}
