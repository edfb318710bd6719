import { Migrator, type Migration, type MigrationProvider } from 'kysely';
import type { Store } from './index.js';
import type { VersionedMigration } from './ddl.js';
import { m0001_core } from './migrations/0001_core.js';
import { m0002_devices } from './migrations/0002_devices.js';
import { m0003_webauthn_device_types } from './migrations/0003_webauthn_device_types.js';
import { m0004_events_lockout } from './migrations/0004_events_lockout.js';
import { m0005_stage_list_index } from './migrations/0005_stage_list_index.js';
import { m0006_config_epoch } from './migrations/0006_config_epoch.js';
import { m0007_session_lock } from './migrations/0007_session_lock.js';
import { m0009_mfa_codes } from './migrations/0009_mfa_codes.js';
import { m0010_groups } from './migrations/0010_groups.js';
import { m0011_policies } from './migrations/0011_policies.js';
import { m0012_reputation } from './migrations/0012_reputation.js';
import { m0013_password_history } from './migrations/0013_password_history.js';
import { m0014_crypto } from './migrations/0014_crypto.js';
import { m0015_applications } from './migrations/0015_applications.js';
import { m0016_crypto_details } from './migrations/0016_crypto_details.js';
import { m0017_brands } from './migrations/0017_brands.js';
import { m0018_flow_tokens } from './migrations/0018_flow_tokens.js';
import { m0020_session_uuid } from './migrations/0020_session_uuid.js';
import { m0021_login_ip_count } from './migrations/0021_login_ip_count.js';
import { m0022_sources } from './migrations/0022_sources.js';
import { m0023_group_source_connections } from './migrations/0023_group_source_connections.js';
import { m0024_source_property_mappings } from './migrations/0024_source_property_mappings.js';
import { m0025_rbac } from './migrations/0025_rbac.js';
import { m0026_notifications } from './migrations/0026_notifications.js';
import { m0027_settings } from './migrations/0027_settings.js';
import { m0028_application_entitlements } from './migrations/0028_application_entitlements.js';
import { m0029_version_history } from './migrations/0029_version_history.js';
import { m0030_data_exports } from './migrations/0030_data_exports.js';
import { m0031_user_switching } from './migrations/0031_user_switching.js';
import { m0032_ldap_sources } from './migrations/0032_ldap_sources.js';
import { m0033_scim_sources } from './migrations/0033_scim_sources.js';
import { m0034_saml_sources } from './migrations/0034_saml_sources.js';
import { m0035_telegram_sources } from './migrations/0035_telegram_sources.js';
import { m0036_plex_sources } from './migrations/0036_plex_sources.js';
import { m0037_blueprint_instances } from './migrations/0037_blueprint_instances.js';
import { m0038_events_brand } from './migrations/0038_events_brand.js';
import { m0039_policy_binding_expiry } from './migrations/0039_policy_binding_expiry.js';
import { m0040_access_requests } from './migrations/0040_access_requests.js';
import { m0041_tasks } from './migrations/0041_tasks.js';
import { m0042_task_worker } from './migrations/0042_task_worker.js';
import { m0043_media_files } from './migrations/0043_media_files.js';
import { m0044_user_offboardings } from './migrations/0044_user_offboardings.js';
import { m0045_lifecycle_reviews } from './migrations/0045_lifecycle_reviews.js';
import { m0046_object_attributes } from './migrations/0046_object_attributes.js';
import { m0047_outgoing_sync_inhibits } from './migrations/0047_outgoing_sync_inhibits.js';
import { m0048_hashed_session_keys } from './migrations/0048_hashed_session_keys.js';
import { m0049_webauthn_unknown_device_type } from './migrations/0049_webauthn_unknown_device_type.js';
import { ensureConfigTriggers } from './config-epoch.js';

/** Core migrations, in order. Names sort before every stage migration ("0…" < "stage_…"). */
export const coreMigrations: Record<string, VersionedMigration> = {
  '0001_core': m0001_core,
  '0002_devices': m0002_devices,
  '0003_webauthn_device_types': m0003_webauthn_device_types,
  '0004_events_lockout': m0004_events_lockout,
  '0005_stage_list_index': m0005_stage_list_index,
  '0006_config_epoch': m0006_config_epoch,
  '0007_session_lock': m0007_session_lock,
  '0009_mfa_codes': m0009_mfa_codes,
  '0010_groups': m0010_groups,
  '0011_policies': m0011_policies,
  '0012_reputation': m0012_reputation,
  '0013_password_history': m0013_password_history,
  '0014_crypto': m0014_crypto,
  '0015_applications': m0015_applications,
  '0016_crypto_details': m0016_crypto_details,
  '0017_brands': m0017_brands,
  '0018_flow_tokens': m0018_flow_tokens,
  '0020_session_uuid': m0020_session_uuid,
  '0021_login_ip_count': m0021_login_ip_count,
  '0022_sources': m0022_sources,
  '0023_group_source_connections': m0023_group_source_connections,
  '0024_source_property_mappings': m0024_source_property_mappings,
  '0025_rbac': m0025_rbac,
  '0026_notifications': m0026_notifications,
  '0027_settings': m0027_settings,
  '0028_application_entitlements': m0028_application_entitlements,
  '0029_version_history': m0029_version_history,
  '0030_data_exports': m0030_data_exports,
  '0031_user_switching': m0031_user_switching,
  '0032_ldap_sources': m0032_ldap_sources,
  '0033_scim_sources': m0033_scim_sources,
  '0034_saml_sources': m0034_saml_sources,
  '0035_telegram_sources': m0035_telegram_sources,
  '0036_plex_sources': m0036_plex_sources,
  '0037_blueprint_instances': m0037_blueprint_instances,
  '0038_events_brand': m0038_events_brand,
  '0039_policy_binding_expiry': m0039_policy_binding_expiry,
  '0040_access_requests': m0040_access_requests,
  '0041_tasks': m0041_tasks,
  '0042_task_worker': m0042_task_worker,
  '0043_media_files': m0043_media_files,
  '0044_user_offboardings': m0044_user_offboardings,
  '0045_lifecycle_reviews': m0045_lifecycle_reviews,
  '0046_object_attributes': m0046_object_attributes,
  '0047_outgoing_sync_inhibits': m0047_outgoing_sync_inhibits,
  '0048_hashed_session_keys': m0048_hashed_session_keys,
  '0049_webauthn_unknown_device_type': m0049_webauthn_unknown_device_type,
};

/**
 * Applies every pending migration: the core ones, then each stage type's own (named `stage_<type>_<nnnn>`).
 * With PostgreSQL several nodes may start together; Kysely takes an advisory lock so only one migrates.
 */
export async function migrate(store: Store, extra: Record<string, VersionedMigration>): Promise<void> {
  const all = { ...coreMigrations, ...extra };
  const provider: MigrationProvider = {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(all)) out[name] = m(store.dialect);
      return out;
    },
  };
  const migrator = new Migrator({
    db: store.db,
    provider,
    allowUnorderedMigrations: true,
    migrationTableName: 'keystage_migrations',
    migrationLockTableName: 'keystage_migrations_lock',
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  if (store.dialect === 'postgres') await ensureConfigTriggers(store.db);
  else store.watchConfigWrites?.();
}
