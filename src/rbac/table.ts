/** The RBAC tables (migration 0025_rbac). */
import type { Generated } from 'kysely';

/** Django's auth_permission: `app_label.codename` names it, `id` stays as long as the row does */
export interface RbacPermissionsTable {
  id: Generated<number>;
  app_label: string;
  model: string;
  codename: string;
  name: string;
}

/** a permission a role holds on every object of its model (authentik's RoleModelPermission) */
export interface RoleModelPermissionsTable {
  id: Generated<number>;
  role_uuid: string;
  permission_id: number;
}

/** a permission a role holds on one object (authentik's RoleObjectPermission); `object_pk` as the API shows the pk */
export interface RoleObjectPermissionsTable {
  id: Generated<number>;
  role_uuid: string;
  permission_id: number;
  object_pk: string;
}

/** authentik's InitialPermissions: what `role_uuid` receives on an object one of its members creates */
export interface InitialPermissionsTable {
  id: Generated<number>;
  name: string;
  role_uuid: string;
}

export interface InitialPermissionsPermissionsTable {
  ip_id: number;
  permission_id: number;
}

declare module '../db/types.js' {
  interface Database {
    rbac_permissions: RbacPermissionsTable;
    role_model_permissions: RoleModelPermissionsTable;
    role_object_permissions: RoleObjectPermissionsTable;
    initial_permissions: InitialPermissionsTable;
    initial_permissions_permissions: InitialPermissionsPermissionsTable;
  }
}
