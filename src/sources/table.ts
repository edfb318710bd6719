/** The source tables (migration 0022_sources): the base row, the OAuth type's own settings, users' connections. */

/** authentik's Source (a policy-binding model: `source_uuid` is its pbm_uuid) */
export interface SourcesTable {
  source_uuid: string;
  name: string;
  slug: string;
  /** lowercase model name: `oauthsource` */
  kind: string;
  /** 0/1 */
  enabled: number;
  /** 0/1 */
  promoted: number;
  authentication_flow: string | null;
  enrollment_flow: string | null;
  policy_engine_mode: string;
  user_matching_mode: string;
  user_path_template: string;
  icon: string;
  managed: string | null;
}

/** authentik's OAuthSource settings */
export interface OAuthSourcesTable {
  source_uuid: string;
  provider_type: string;
  request_token_url: string | null;
  authorization_url: string | null;
  access_token_url: string | null;
  profile_url: string | null;
  pkce: string;
  consumer_key: string;
  /** sealed (src/instance/secrets.ts) */
  consumer_secret: string;
  additional_scopes: string;
  oidc_well_known_url: string;
  oidc_jwks_url: string;
  /** JSON object */
  oidc_jwks: string;
  authorization_code_auth_method: string;
  group_matching_mode: string;
}

/** a user's link to an identity at a source (authentik's UserOAuthSourceConnection) */
export interface UserSourceConnectionsTable {
  id: number;
  user_id: number;
  source_uuid: string;
  identifier: string;
  /** sealed; null when none was kept */
  access_token: string | null;
  expires: string;
  created: string;
  last_updated: string;
  /** an LDAP source's sync that last found the identity (null for other sources) */
  validated_by: string | null;
}

/** a group's link to a group at a source (authentik's GroupOAuthSourceConnection) */
export interface GroupSourceConnectionsTable {
  id: number;
  group_uuid: string;
  source_uuid: string;
  identifier: string;
  created: string;
  last_updated: string;
  /** an LDAP source's sync that last found the group (null for other sources) */
  validated_by: string | null;
}

/** a source's property mappings, for the users (`kind` 'user') or the groups ('group') it creates */
export interface SourcePropertyMappingsTable {
  source_uuid: string;
  pm_uuid: string;
  kind: 'user' | 'group';
}

declare module '../db/types.js' {
  interface Database {
    oauth_sources: OAuthSourcesTable;
    user_source_connections: UserSourceConnectionsTable;
    group_source_connections: GroupSourceConnectionsTable;
    source_property_mappings: SourcePropertyMappingsTable;
  }
}
