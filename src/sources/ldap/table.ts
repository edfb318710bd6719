/** The LDAP source's table (migration 0032): authentik's LDAPSource settings, its connectivity and sync state. */
import type { Bool } from '../../db/types.js';

export interface LdapSourcesTable {
  source_uuid: string;
  /** one or more ldap:// or ldaps:// URIs, comma-separated */
  server_uri: string;
  peer_certificate: string | null;
  client_certificate: string | null;
  bind_cn: string;
  /** sealed (src/instance/secrets.ts) */
  bind_password: string;
  start_tls: Bool;
  sni: Bool;
  base_dn: string;
  additional_user_dn: string;
  additional_group_dn: string;
  user_object_filter: string;
  group_object_filter: string;
  group_membership_field: string;
  user_membership_attribute: string;
  object_uniqueness_field: string;
  password_login_update_internal_password: Bool;
  sync_users: Bool;
  sync_users_password: Bool;
  sync_groups: Bool;
  sync_parent_group: string | null;
  lookup_groups_from_user: Bool;
  delete_not_found_objects: Bool;
  sync_outgoing_trigger_mode: string;
  sync_group_hierarchy: Bool;
  /** JSON: what the last connectivity check found per server (authentik's `connectivity`) */
  connectivity: string | null;
  connectivity_checked: string | null;
  /** the node syncing the source holds it until then */
  sync_claimed_until: string | null;
  /** a sync asked for (on save) and not yet started */
  sync_requested: string | null;
  last_sync_started: string | null;
  last_successful_sync: string | null;
  /** authentik's TaskAggregatedStatusEnum of the last sync: done, warning or error */
  last_sync_status: string | null;
  /** JSON list of the last sync's messages */
  last_sync_messages: string | null;
}

declare module '../../db/types.js' {
  interface Database {
    ldap_sources: LdapSourcesTable;
  }
}
