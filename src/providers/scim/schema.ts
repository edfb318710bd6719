/** The SCIM provider's fields (authentik's SCIMProviderSerializer, 2026.8) and list filters. */
import { S } from '../../rest/schema.js';
import type { ProviderDef } from '../types.js';
import { linkTableFilter } from '../resource.js';
import { scimMigrations } from './migrations.js';

export const AUTH_MODES = ['token', 'oauth', 'oauth_interactive'] as const;
export const COMPATIBILITY_MODES = ['default', 'aws', 'slack', 'sfdc', 'gitlab', 'webex', 'vcenter'] as const;
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

const ro = (description?: string) => S.ro(S.nullable(S.text({ 'x-computed': true, ...(description ? { description } : {}) })));

export const scimSchema = {
  kind: 'scimprovider',
  app: 'authentik_providers_scim',
  model: 'SCIMProvider',
  path: 'scim',
  table: 'provider_scim',
  component: 'ak-provider-scim-form',
  verboseName: 'SCIM Provider',
  verboseNamePlural: 'SCIM Providers',
  description: 'SCIM 2.0 provider to create users and groups in external applications',
  iconUrl: '/static/authentik/sources/scim.png',
  backchannelOnly: true,
  secretColumns: ['token'],
  fields: {
    property_mappings_group: S.m2m(
      { table: 'property_mappings', column: 'pm_uuid' },
      { default: [], 'x-m2m-table': true, description: 'Property mappings used for group creation/updating.' },
    ),
    url: S.str({ description: 'Base URL to SCIM requests, usually ends in /v2' }),
    verify_certificates: S.bool({ default: true }),
    token: S.wo(S.text({ default: '', description: 'Authentication token' })),
    auth_mode: S.enumOf(AUTH_MODES, { default: 'token' }),
    auth_oauth: S.fk({ table: 'sources', column: 'source_uuid' }, { default: null, description: 'OAuth Source used for authentication' }),
    auth_oauth_params: S.obj({ default: {}, description: 'Additional OAuth parameters, such as grant_type' }),
    auth_oauth_token_last_updated: S.ro(S.nullable(S.datetime({ 'x-computed': true }))),
    auth_oauth_token_expires: S.ro(S.nullable(S.datetime({ 'x-computed': true }))),
    auth_oauth_url_callback: ro(),
    auth_oauth_url_start: ro(),
    compatibility_mode: S.enumOf(COMPATIBILITY_MODES, {
      default: 'default',
      title: 'SCIM Compatibility Mode',
      description: 'Alter authentik behavior for vendor-specific SCIM implementations.',
    }),
    service_provider_config_cache_timeout: S.duration({
      default: 'hours=1',
      description: 'Cache duration for ServiceProviderConfig responses. Set minutes=0 to disable.',
    }),
    exclude_users_service_account: S.bool({ default: false }),
    sync_page_size: S.int({ minimum: 1, default: 100, description: 'Controls the number of objects synced in a single task' }),
    sync_page_timeout: S.duration({ default: 'minutes=30', description: 'Timeout for synchronization of a single page' }),
    discovery_enabled: S.bool({
      default: false,
      description: 'When enabled, authentik will attempt to discover existing resources in the remote system.',
    }),
    group_filters: S.m2m(
      { table: 'groups', column: 'group_uuid' },
      { default: [], 'x-m2m-table': true, description: 'Group filters used to define sync-scope for groups.' },
    ),
    dry_run: S.bool({
      default: false,
      description: 'When enabled, provider will not modify or create objects in the remote system.',
    }),
  },
  filters: {
    url: { type: 'str', column: 't.url' },
    exclude_users_service_account: { type: 'bool', column: 't.exclude_users_service_account' },
    group_filters: linkTableFilter('scim_provider_group_filters', { table: 'groups', column: 'group_uuid' }),
  },
  migrations: scimMigrations,
} satisfies Omit<ProviderDef, 'validate'>;
