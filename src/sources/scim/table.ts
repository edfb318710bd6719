/** The SCIM source's tables (migration 0033). */

/** authentik's SCIMSource: the API token its identity provider authenticates with */
export interface ScimSourcesTable {
  source_uuid: string;
  token_uuid: string | null;
}

/** a user (or group) an identity provider provisioned through the source: SCIM id, its externalId, what it sent */
export interface ScimSourceUsersTable {
  id: string;
  external_id: string;
  user_id: number;
  source_uuid: string;
  /** JSON: the SCIM resource as last sent */
  attributes: string;
}

export interface ScimSourceGroupsTable {
  id: string;
  external_id: string;
  group_uuid: string;
  source_uuid: string;
  attributes: string;
}

declare module '../../db/types.js' {
  interface Database {
    scim_sources: ScimSourcesTable;
    scim_source_users: ScimSourceUsersTable;
    scim_source_groups: ScimSourceGroupsTable;
  }
}
