/** /rbac/initial_permissions/: authentik's InitialPermissionsViewSet (the effect is in initial.ts, on every create). */
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import type { DB } from '../db/index.js';
import { permissionsById, renderPermission } from './permissions.js';
import type { InitialPermissionsTable } from './table.js';

type Row = Omit<InitialPermissionsTable, 'id'> & { id: number };

const props = {
  pk: S.ro(S.int({ title: 'ID' })),
  name: S.str({
    maxLength: 150,
    'x-unique': { table: 'initial_permissions', column: 'name', self: 'id', message: 'initial permissions with this name already exists.' },
  }),
  role: Type.Unsafe<string>({ type: 'string', format: 'uuid', 'x-ref': { table: 'roles', column: 'role_uuid' } }),
  permissions: Type.Array(Type.Integer(), {
    'x-m2m': { table: 'rbac_permissions', column: 'id', int: true },
    'x-json': true,
    'x-m2m-table': true,
    default: [],
  }),
  permissions_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/Permission' }), { 'x-computed': true })),
};

async function setPermissions(tx: Parameters<NonNullable<ResourceDef['remove']>>[0], id: number, ids: number[] | undefined) {
  if (!ids) return;
  await tx.deleteFrom('initial_permissions_permissions').where('ip_id', '=', id).execute();
  for (const p of new Set(ids)) await tx.insertInto('initial_permissions_permissions').values({ ip_id: id, permission_id: p }).execute();
}

export function mountInitialPermissions(router: ApiRouter, db: DB) {
  const def: ResourceDef<Row> = {
    component: 'InitialPermissions',
    model: 'Initial Permissions',
    path: '/rbac/initial_permissions',
    opPrefix: 'rbac_initial_permissions',
    tag: 'rbac',
    lookup: { param: 'id', column: 'initial_permissions.id', rowKey: 'id', type: 'int' },
    props,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_rbac.initialpermissions', verbose: 'Initial Permissions' },
    list: {
      filters: { name: { type: 'str', column: 'initial_permissions.name' } },
      search: ['initial_permissions.name'],
      ordering: { name: 'initial_permissions.name', pk: 'initial_permissions.id' },
      defaultOrdering: ['pk'],
      pk: 'initial_permissions.id',
      unique: ['initial_permissions.name'],
    },
    select: (d) => d.selectFrom('initial_permissions').selectAll(),
    render: async (d, rows) => {
      const links = rows.length
        ? await d
            .selectFrom('initial_permissions_permissions')
            .selectAll()
            .where(
              'ip_id',
              'in',
              rows.map((r) => Number(r.id)),
            )
            .orderBy('permission_id')
            .execute()
        : [];
      const perms = await permissionsById(d, [...new Set(links.map((l) => Number(l.permission_id)))]);
      return rows.map((r) => {
        const mine = links.filter((l) => Number(l.ip_id) === Number(r.id)).map((l) => Number(l.permission_id));
        return {
          pk: Number(r.id),
          name: r.name,
          role: r.role_uuid,
          permissions: mine,
          permissions_obj: mine.flatMap((id) => {
            const p = perms.get(id);
            return p ? [renderPermission(p)] : [];
          }),
        };
      });
    },
    validate: async (data, ctx) => {
      if (ctx.mode === 'update') data.permissions ??= [];
    },
    insert: async (tx, data) => {
      const r = await tx
        .insertInto('initial_permissions')
        .values({ name: data.name as string, role_uuid: data.role as string })
        .returning('id')
        .executeTakeFirstOrThrow();
      await setPermissions(tx, Number(r.id), (data.permissions as number[] | undefined) ?? []);
      return Number(r.id);
    },
    update: async (tx, existing, data) => {
      const set: Record<string, string> = {};
      if (data.name !== undefined) set.name = data.name as string;
      if (data.role !== undefined) set.role_uuid = data.role as string;
      if (Object.keys(set).length) await tx.updateTable('initial_permissions').set(set).where('id', '=', Number(existing.id)).execute();
      await setPermissions(tx, Number(existing.id), data.permissions as number[] | undefined);
      return Number(existing.id);
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('initial_permissions').where('id', '=', Number(existing.id)).execute();
    },
  };
  mountResource(router, db, def);
}
