/**
 * The permission catalogue: Django's four model permissions (add, change, delete, view) for every model the API
 * serves, plus authentik's own (Meta.permissions) where Keystage enforces them, and authentik's system permissions.
 * Resources register their model when mounted (rest/resource.ts); the rows are written once per start, so each
 * permission keeps its integer id (`/rbac/permissions/{id}/`, initial permissions) for as long as the database lives.
 */
import type { DB } from '../db/index.js';
import type {} from './table.js';

export interface ModelInfo {
  /** `app_label.model`, as authentik's `meta_model_name` */
  label: string;
  /** human-readable model name, e.g. `Flow` */
  verbose: string;
  /** authentik's Meta.permissions beyond the four defaults: [codename, name] */
  extra?: readonly (readonly [string, string])[];
  /** no add/change/delete/view (system permissions live on a model without objects) */
  noDefaults?: boolean;
  /** the name of the object with this pk, for `/rbac/permissions/roles/`; undefined when it does not exist */
  describe?: (db: DB, pk: string) => Promise<string | undefined>;
}

const models = new Map<string, ModelInfo>();

/** authentik's own permissions that Keystage enforces, by model */
const EXTRA: Record<string, readonly (readonly [string, string])[]> = {
  'authentik_core.user': [
    ['reset_user_password', 'Reset Password'],
    ['impersonate', 'Can impersonate other users'],
    ['view_user_applications', 'View applications the user has access to'],
  ],
  'authentik_core.group': [
    ['add_user_to_group', 'Add user to group'],
    ['remove_user_from_group', 'Remove user from group'],
    ['enable_group_superuser', 'Enable superuser status'],
    ['disable_group_superuser', 'Disable superuser status'],
  ],
  'authentik_flows.flow': [
    ['export_flow', 'Can export a Flow'],
    ['inspect_flow', "Can inspect a Flow's execution"],
    ['view_flow_cache', "View Flow's cache metrics"],
    ['clear_flow_cache', "Clear Flow's cache metrics"],
  ],
  'authentik_policies.policy': [
    ['view_policy_cache', "View Policy's cache metrics"],
    ['clear_policy_cache', "Clear Policy's cache metrics"],
  ],
  'authentik_crypto.certificatekeypair': [
    ['view_certificatekeypair_certificate', 'View Certificate-Key pair certificate'],
    ['view_certificatekeypair_key', 'View Certificate-Key pair private key'],
  ],
  'authentik_rbac.role': [
    ['assign_role_permissions', 'Can assign permissions to roles'],
    ['unassign_role_permissions', 'Can unassign permissions from roles'],
  ],
};

/** authentik's SystemPermission: `system_permissions` of `/core/users/me/` lists the codenames a user holds */
export const SYSTEM_MODEL = 'authentik_rbac.systempermission';
registerModel({
  label: SYSTEM_MODEL,
  verbose: 'System permission',
  noDefaults: true,
  extra: [
    ['view_system_info', 'Can view system info'],
    ['access_admin_interface', 'Can access admin interface'],
    ['view_system_settings', 'Can view system settings'],
    ['edit_system_settings', 'Can edit system settings'],
    ['view_media_files', 'Can view media files'],
    ['manage_media_files', 'Can manage media files'],
  ],
});

/** called for every model the API serves; the same label twice keeps the first registration's description */
export function registerModel(info: ModelInfo): void {
  const known = models.get(info.label);
  if (!known) models.set(info.label, { ...info, extra: info.extra ?? EXTRA[info.label] });
  else if (!known.describe && info.describe) known.describe = info.describe;
}

export const modelInfo = (label: string): ModelInfo | undefined => models.get(label);
export const modelLabels = (): string[] => [...models.keys()].sort();

/** `authentik_stages_identification` → `authentik Stages.Identification`, as authentik's app configs name themselves */
export function appVerbose(app: string): string {
  const parts = app
    .replace(/^authentik_?/, '')
    .split('_')
    .filter(Boolean);
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  return parts.length ? `authentik ${parts.map(cap).join('.')}` : 'authentik';
}

export interface PermissionSpec {
  app_label: string;
  model: string;
  codename: string;
  name: string;
}

export function catalogue(): PermissionSpec[] {
  const out: PermissionSpec[] = [];
  for (const [label, m] of models) {
    const [app_label, model] = label.split('.') as [string, string];
    if (!m.noDefaults)
      for (const action of ['add', 'change', 'delete', 'view'])
        out.push({ app_label, model, codename: `${action}_${model}`, name: `Can ${action} ${m.verbose}` });
    for (const [codename, name] of m.extra ?? []) out.push({ app_label, model, codename, name });
  }
  return out;
}

/**
 * Writes the permissions not in the table yet (several nodes starting together: the unique key makes the second
 * insert of a row a no-op). Rows of models no longer served stay, so ids and assignments survive a downgrade.
 */
export async function syncPermissions(db: DB): Promise<void> {
  const have = new Set(
    (await db.selectFrom('rbac_permissions').select(['app_label', 'model', 'codename']).execute()).map(
      (r) => `${r.app_label}.${r.model}.${r.codename}`,
    ),
  );
  const missing = catalogue().filter((p) => !have.has(`${p.app_label}.${p.model}.${p.codename}`));
  for (let i = 0; i < missing.length; i += 200)
    await db
      .insertInto('rbac_permissions')
      .values(missing.slice(i, i + 200))
      .onConflict((oc) => oc.columns(['app_label', 'model', 'codename']).doNothing())
      .execute();
}
