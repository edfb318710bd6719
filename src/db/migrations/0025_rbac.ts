import type { Kysely } from 'kysely';
import { addColumns, tableWithAutoId, type VersionedMigration } from '../ddl.js';

/**
 * Role-based access control as authentik 2025+ models it: permissions (Django's auth_permission: one row per
 * app label, model and codename, their integer ids kept), given to roles for a whole model (RoleModelPermission) or
 * one object (RoleObjectPermission); users hold roles directly and through their groups (and the groups' parents).
 * InitialPermissions: what a role receives on the objects its members create.
 */
export const m0025_rbac: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('roles').addColumn('managed', 'text').execute();
    await addColumns(tableWithAutoId(db, dialect, 'rbac_permissions'), dialect, {
      app_label: 'text',
      model: 'text',
      codename: 'text',
      name: 'text',
    })
      .addUniqueConstraint('rbac_permissions_codename', ['app_label', 'model', 'codename'] as never)
      .execute();
    await addColumns(tableWithAutoId(db, dialect, 'role_model_permissions'), dialect, {
      role_uuid: { type: 'uuid', notNull: true, ref: { table: 'roles', column: 'role_uuid', onDelete: 'cascade' } },
      permission_id: { type: 'int', notNull: true, ref: { table: 'rbac_permissions', column: 'id', onDelete: 'cascade' } },
    })
      .addUniqueConstraint('role_model_permissions_unique', ['role_uuid', 'permission_id'] as never)
      .execute();
    await addColumns(tableWithAutoId(db, dialect, 'role_object_permissions'), dialect, {
      role_uuid: { type: 'uuid', notNull: true, ref: { table: 'roles', column: 'role_uuid', onDelete: 'cascade' } },
      permission_id: { type: 'int', notNull: true, ref: { table: 'rbac_permissions', column: 'id', onDelete: 'cascade' } },
      object_pk: 'text',
    })
      .addUniqueConstraint('role_object_permissions_unique', ['role_uuid', 'permission_id', 'object_pk'] as never)
      .execute();
    await db.schema
      .createIndex('role_object_permissions_object')
      .on('role_object_permissions')
      .columns(['permission_id', 'object_pk'])
      .execute();
    await addColumns(tableWithAutoId(db, dialect, 'initial_permissions'), dialect, {
      name: { type: 'text', notNull: true, unique: true },
      role_uuid: { type: 'uuid', notNull: true, ref: { table: 'roles', column: 'role_uuid', onDelete: 'cascade' } },
    }).execute();
    await db.schema
      .createTable('initial_permissions_permissions')
      .addColumn('ip_id', 'integer', (c) => c.notNull().references('initial_permissions.id').onDelete('cascade'))
      .addColumn('permission_id', 'integer', (c) => c.notNull().references('rbac_permissions.id').onDelete('cascade'))
      .addPrimaryKeyConstraint('initial_permissions_permissions_pk', ['ip_id', 'permission_id'])
      .execute();
    await db.schema.createIndex('user_roles_role').on('user_roles').column('role_uuid').execute();
    await db.schema.createIndex('group_roles_role').on('group_roles').column('role_uuid').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of [
      'initial_permissions_permissions',
      'initial_permissions',
      'role_object_permissions',
      'role_model_permissions',
      'rbac_permissions',
    ])
      await db.schema.dropTable(t).execute();
    await db.schema.dropIndex('user_roles_role').ifExists().execute();
    await db.schema.dropIndex('group_roles_role').ifExists().execute();
    await db.schema.alterTable('roles').dropColumn('managed').execute();
  },
});
