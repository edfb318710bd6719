/** Row types of the core tables. Booleans are stored as 0/1 integers and datetimes as ISO-8601 text in both dialects. */
import type { ColumnType, Generated, Kysely } from 'kysely';

export type Bool = number;

export interface UsersTable {
  id: number;
  uuid: string;
  username: string;
  name: string;
  email: string;
  password: string;
  is_active: Bool;
  last_login: string | null;
  date_joined: string;
  path: string;
  type: string;
  attributes: string;
  password_change_date: string;
  last_updated: string;
}

export interface GroupsTable {
  group_uuid: string;
  num_pk: number;
  name: string;
  is_superuser: Bool;
  attributes: string;
}

export interface UserGroupsTable {
  user_id: number;
  group_uuid: string;
}

/** one edge of the group hierarchy: `child_uuid` has `parent_uuid` among its parents (migration 0010) */
export interface GroupParentsTable {
  child_uuid: string;
  parent_uuid: string;
}

/** a group's roles (migration 0010): its members, and its child groups' members, hold them (src/rbac/) */
export interface GroupRolesTable {
  group_uuid: string;
  role_uuid: string;
}

export interface RolesTable {
  role_uuid: string;
  name: string;
  /** migration 0025: a role Keystage itself maintains */
  managed: string | null;
}

export interface UserRolesTable {
  user_id: number;
  role_uuid: string;
}

export interface TokensTable {
  token_uuid: string;
  identifier: string;
  key: string;
  key_hash: string;
  intent: string;
  user_id: number;
  description: string;
  expires: string | null;
  expiring: Bool;
  managed: string | null;
}

export interface FlowsTable {
  flow_uuid: string;
  pbm_uuid: string;
  name: string;
  slug: string;
  title: string;
  designation: string;
  background: string;
  policy_engine_mode: string;
  compatibility_mode: Bool;
  layout: string;
  denied_action: string;
  authentication: string;
}

export interface BindingsTable {
  fsb_uuid: string;
  pbm_uuid: string;
  target: string;
  stage: string;
  evaluate_on_plan: Bool;
  re_evaluate_policies: Bool;
  order: number;
  policy_engine_mode: string;
  invalid_response_action: string;
}

export interface StagesTable {
  stage_uuid: string;
  name: string;
  kind: string;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface WebAuthnDeviceTypesTable {
  aaguid: string;
  description: string;
  icon: string | null;
}

export interface SessionsTable {
  session_key: string;
  user_id: number | null;
  data: string;
  expires: string;
  last_ip: string;
  last_user_agent: string;
  created: string;
  last_seen: string | null;
  /** while a flow request of this session runs: until when its lease holds (sessions.ts) */
  lock_until: string | null;
  /** the public identifier (/core/authenticated_sessions/); null only for rows stored before it existed */
  uuid: string | null;
  /** a login: the token of the browser holding it, shared by that browser's logins (sessions/user-switching.ts) */
  switch_token?: string | null;
}

export interface EventsTable {
  event_uuid: string;
  action: string;
  app: string;
  user: string;
  username: string;
  context: string;
  client_ip: string | null;
  created: string;
  expires: string;
  /** JSON: the brand of the request the event came from (authentik's Event.brand) */
  brand: ColumnType<string, string | undefined, string>;
}

export interface AuthFailuresTable {
  scope: string;
  key: string;
  count: number;
  window_start: string;
}

export interface LoginIpsTable {
  user_id: number;
  ip: string;
  last_success: string;
  /** successful logins from this IP (migration 0021) */
  logins: Generated<number>;
}

/** an e-mail or SMS code of one device for one login attempt (migration 0009) */
export interface MfaCodesTable {
  /** the device's table (src/mfa/sidechannel.ts) */
  device_table: string;
  device_id: number;
  /** SHA-256 (hex) of the login attempt's nonce */
  attempt: string;
  token_hash: string;
  valid_until: string;
}

/** codes sent per scope ("device", "attempt", "ip", "account") and key, within a window (migration 0009) */
/** a saved flow plan behind a link (migration 0018, src/flows/tokens.ts) */
export interface FlowTokensTable {
  id: string;
  /** SHA-256 (hex) of the key the link carries */
  key_hash: string;
  identifier: string;
  flow_uuid: string;
  user_id: number | null;
  /** the plan, JSON */
  plan: string;
  revoke_on_execution: number;
  expires: string;
  created: string;
}

export interface MfaSendsTable {
  scope: string;
  key: string;
  count: number;
  window_start: string;
}

/**
 * Core tables. Stage-specific tables (stage_<name>) are reached through the stage registry, untyped; each device
 * class declares its own tables here from its folder (src/mfa/<class>/table.ts).
 */
export interface Database {
  users: UsersTable;
  groups: GroupsTable;
  user_groups: UserGroupsTable;
  group_parents: GroupParentsTable;
  group_roles: GroupRolesTable;
  roles: RolesTable;
  user_roles: UserRolesTable;
  tokens: TokensTable;
  flows: FlowsTable;
  flow_bindings: BindingsTable;
  stages: StagesTable;
  settings: SettingsTable;
  webauthn_device_types: WebAuthnDeviceTypesTable;
  sessions: SessionsTable;
  /** the base source row (src/sources/table.ts) */
  sources: import('../sources/table.js').SourcesTable;
  events: EventsTable;
  auth_failures: AuthFailuresTable;
  login_ips: LoginIpsTable;
  mfa_codes: MfaCodesTable;
  mfa_sends: MfaSendsTable;
  flow_tokens: FlowTokensTable;
  /** PostgreSQL only (migration 0006, config-epoch.ts) */
  keystage_config_epoch: { id: number; epoch: number | string };
}

export type Dialect = 'sqlite' | 'postgres';
/** the query layer over either dialect */
export type DB = Kysely<Database>;
