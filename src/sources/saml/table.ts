/** The SAML source's tables (migration 0034). */

/** authentik's SAMLSource settings beside the base source row */
export interface SamlSourcesTable {
  source_uuid: string;
  group_matching_mode: string;
  pre_authentication_flow: string;
  issuer_override: string;
  sso_url: string;
  slo_url: string | null;
  allow_idp_initiated: number | boolean;
  force_authn: number | boolean;
  name_id_policy: string;
  binding_type: string;
  verification_kp: string | null;
  signing_kp: string | null;
  digest_algorithm: string;
  signature_algorithm: string;
  temporary_user_delete_after: string;
  encryption_kp: string | null;
  signed_assertion: number | boolean;
  signed_response: number | boolean;
}

/**
 * the IDs of the responses (and assertions) a source has accepted, until they expire: each is accepted once, on
 * every node (authentik keeps IdP-initiated ones in its cache)
 */
export interface SamlSeenResponsesTable {
  source_uuid: string;
  response_id: string;
  expires: string;
}

declare module '../../db/types.js' {
  interface Database {
    saml_sources: SamlSourcesTable;
    saml_seen_responses: SamlSeenResponsesTable;
  }
}
