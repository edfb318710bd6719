/** The SCIM provider's tables (migration provider_scim_0001). */
import type { Generated } from 'kysely';
type Bool = number | boolean;

export interface ProviderScimTable {
  provider_id: number;
  url: string;
  verify_certificates: Bool;
  /** sealed (src/instance/secrets.ts) */
  token: string;
  auth_mode: string;
  auth_oauth: string | null;
  auth_oauth_params: string;
  compatibility_mode: string;
  service_provider_config_cache_timeout: string;
  exclude_users_service_account: Bool;
  sync_page_size: number;
  sync_page_timeout: string;
  discovery_enabled: Bool;
  dry_run: Bool;
}

export interface ScimSyncStateTable {
  provider_id: number;
  sync_requested: string | null;
  claimed_until: string | null;
  full_sync_running: Bool | null;
  last_sync_started: string | null;
  last_successful_sync: string | null;
  last_sync_status: string | null;
  last_sync_messages: string | null;
  oauth_token_last_updated: string | null;
  oauth_token_expires: string | null;
}

/** a remote user Keystage made or linked (authentik's SCIMProviderUser): `attributes` is what was last written or read */
export interface ScimProviderUsersTable {
  id: string;
  provider_id: number;
  user_id: number | null;
  scim_id: string;
  attributes: string;
}

export interface ScimProviderGroupsTable {
  id: string;
  provider_id: number;
  group_uuid: string | null;
  scim_id: string;
  attributes: string;
}

export interface ScimChangesTable {
  id: Generated<number>;
  provider_id: number;
  kind: 'user' | 'group' | 'member';
  ref: string;
  member: string | null;
}

declare module '../../db/types.js' {
  interface Database {
    provider_scim: ProviderScimTable;
    scim_provider_group_filters: { provider_id: number; group_uuid: string };
    scim_provider_group_mappings: { provider_id: number; pm_uuid: string };
    scim_sync_state: ScimSyncStateTable;
    scim_provider_users: ScimProviderUsersTable;
    scim_provider_groups: ScimProviderGroupsTable;
    scim_changes: ScimChangesTable;
  }
}
