/** The property mapping tables (migration 0015_applications). */

export interface PropertyMappingsTable {
  pm_uuid: string;
  name: string;
  /** authentik's Python expression */
  expression: string;
  /** authentik's managed id (`goauthentik.io/providers/oauth2/scope-openid`), null for mappings an admin made */
  managed: string | null;
  /** lowercase model name: `scopemapping` */
  kind: string;
  created: string;
  last_updated: string;
}

/** a scope mapping's own columns (authentik's ScopeMapping) */
export interface PropertyMappingScopeTable {
  pm_uuid: string;
  scope_name: string;
  description: string;
}

/** a SAML provider mapping's own columns (authentik's SAMLPropertyMapping) */
export interface PropertyMappingSamlTable {
  pm_uuid: string;
  saml_name: string;
  friendly_name: string | null;
}

declare module '../db/types.js' {
  interface Database {
    property_mappings: PropertyMappingsTable;
    property_mapping_scope: PropertyMappingScopeTable;
    property_mapping_saml: PropertyMappingSamlTable;
  }
}
