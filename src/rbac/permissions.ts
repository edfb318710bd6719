/** /rbac/permissions/: the permission catalogue (authentik's RBACPermissionViewSet: any authenticated caller reads it). */
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { isUuid, normalizeUuid } from '../rest/validate.js';
import type { DB } from '../db/index.js';
import { appVerbose, modelInfo } from './catalogue.js';
import type { RbacPermissionsTable } from './table.js';

export type PermissionRow = Omit<RbacPermissionsTable, 'id'> & { id: number };

const ro = (t: ReturnType<typeof S.text>) => S.ro(t);
const permissionProps = {
  id: S.ro(Type.Integer()),
  name: S.text({ maxLength: 255 }),
  codename: S.text({ maxLength: 100 }),
  model: ro(S.text({ title: 'Python model class name' })),
  app_label: ro(S.text()),
  app_label_verbose: ro(S.text({ description: 'Human-readable app label', 'x-computed': true })),
  model_verbose: ro(S.text({ description: 'Human-readable model name', 'x-computed': true })),
};

export const modelVerbose = (app: string, model: string) => modelInfo(`${app}.${model}`)?.verbose ?? `${app}.${model}`;

export const renderPermission = (p: PermissionRow) => ({
  id: Number(p.id),
  name: p.name,
  codename: p.codename,
  model: p.model,
  app_label: p.app_label,
  app_label_verbose: appVerbose(p.app_label),
  model_verbose: modelVerbose(p.app_label, p.model),
});

/** permission rows by id, for the initial permissions' `permissions_obj` */
export async function permissionsById(db: DB, ids: number[]): Promise<Map<number, PermissionRow>> {
  if (!ids.length) return new Map();
  const rows = await db.selectFrom('rbac_permissions').selectAll().where('id', 'in', ids).execute();
  return new Map(rows.map((r) => [Number(r.id), r as PermissionRow]));
}

export function mountPermissions(router: ApiRouter, db: DB) {
  const def: ResourceDef<PermissionRow> = {
    component: 'Permission',
    model: 'permission',
    path: '/rbac/permissions',
    opPrefix: 'rbac_permissions',
    tag: 'rbac',
    lookup: { param: 'id', column: 'rbac_permissions.id', rowKey: 'id', type: 'int' },
    props: permissionProps,
    ops: ['list', 'retrieve'],
    access: { kind: 'authenticated' },
    list: {
      filters: {
        codename: { type: 'str', column: 'rbac_permissions.codename' },
        content_type__app_label: { type: 'str', column: 'rbac_permissions.app_label' },
        content_type__model: { type: 'str', column: 'rbac_permissions.model' },
        role: {
          type: 'custom',
          parse: (values) => {
            const v = values[values.length - 1] ?? '';
            if (!isUuid(v)) return { error: ['Select a valid choice. That choice is not one of the available choices.'] };
            return {
              cond: (eb) =>
                eb(
                  'rbac_permissions.id',
                  'in',
                  sql<number>`(select permission_id from role_model_permissions where role_uuid = ${normalizeUuid(v)})`,
                ),
            };
          },
        },
      },
      search: ['rbac_permissions.codename', 'rbac_permissions.model', 'rbac_permissions.app_label'],
      ordering: { name: 'rbac_permissions.name', codename: 'rbac_permissions.codename', id: 'rbac_permissions.id' },
      defaultOrdering: ['name'],
      pk: 'rbac_permissions.id',
    },
    select: (d) => d.selectFrom('rbac_permissions').selectAll().where('rbac_permissions.app_label', 'like', 'authentik%'),
    render: async (_db, rows) => rows.map(renderPermission),
  };
  mountResource(router, db, def);
}
