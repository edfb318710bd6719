/**
 * Who holds what: `/rbac/permissions/assigned_by_roles/` (the roles holding permissions of a model, or of one object,
 * with `assign` and `unassign`) and `/rbac/permissions/roles/` (a role's object permissions), as authentik's
 * RoleAssignedPermissionViewSet and RolePermissionViewSet.
 *
 * Keystage adds one rule authentik lacks: someone who is not a superuser assigns only permissions they hold
 * themselves (for the whole model, or on that object), so the right to assign is not a way to every other right.
 */
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { ApiRouter } from '../rest/routes.js';
import { listQueryParams, registerPaginated, type mountResource } from '../rest/resource.js';
import { paginate, type ListSpec, type Query } from '../rest/list.js';
import { requireCaller, type Caller } from '../rest/auth.js';
import { ValidationError, type FieldErrors } from '../rest/errors.js';
import { isUuid, normalizeUuid, validateBody } from '../rest/validate.js';
import type { DB } from '../db/index.js';
import type { RolesTable } from '../db/types.js';
import { lockConfigEpoch } from '../db/config-epoch.js';
import { modelInfo, modelLabels } from './catalogue.js';
import { can } from './check.js';
import { modelVerbose, type PermissionRow } from './permissions.js';
import { appVerbose } from './catalogue.js';

type Roles = ReturnType<typeof mountResource<RolesTable>>;
const last = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v);

const roleSpec: ListSpec = {
  filters: {},
  search: ['roles.name'],
  ordering: { name: 'roles.name' },
  defaultOrdering: ['name'],
  pk: 'roles.role_uuid',
};

/** the `model` query parameter or body field: one of the models the API serves */
function modelChoice(v: string | undefined, field: string, required: boolean, message: (v: string) => string): FieldErrors | undefined {
  if (v === undefined || v === '') return required ? { [field]: ['This field is required.'] } : undefined;
  return modelLabels().includes(v) ? undefined : { [field]: [message(v)] };
}

interface Assignment {
  perms: PermissionRow[];
  model?: string;
  objectPk?: string;
}

/** authentik's PermissionAssignSerializer, plus: the permissions exist, belong to the model, and the object exists */
async function parseAssignment(db: DB, body: unknown, caller: Caller): Promise<Assignment> {
  const data = await validateBody(
    {
      permissions: Type.Array(Type.String({ minLength: 1 })),
      model: Type.String({ enum: modelLabels(), 'x-optional': true }),
      object_pk: Type.String({ minLength: 1, 'x-optional': true }),
    },
    body,
    { mode: 'create', db },
  );
  // (absent optional fields come back as null)
  const model = (data.model as string | null | undefined) ?? undefined;
  const objectPk = (data.object_pk as string | null | undefined) ?? undefined;
  if (!!model !== !!objectPk) throw ValidationError.field(model ? 'object_pk' : 'model', 'This field is required.');
  const wanted = data.permissions as string[];
  if (!model && !wanted.every((p) => p.includes('.')))
    throw ValidationError.field('permissions', 'When assigning global permissions, codename must be given as app_label.codename');
  const [app, mdl] = (model ?? '.').split('.') as [string, string];
  const perms: PermissionRow[] = [];
  for (const w of wanted) {
    const [pApp, codename] = w.includes('.') ? (w.split('.', 2) as [string, string]) : [app, w];
    let q = db.selectFrom('rbac_permissions').selectAll().where('app_label', '=', pApp).where('codename', '=', codename);
    if (model) q = q.where('model', '=', mdl);
    const row = (await q.executeTakeFirst()) as PermissionRow | undefined;
    if (!row || (model && pApp !== app)) throw ValidationError.field('permissions', `Permission "${w}" does not exist.`);
    if (!caller.superuser && !(await can(db, caller, `${row.app_label}.${row.codename}`, objectPk)))
      throw ValidationError.field('permissions', `You cannot assign a permission you do not hold: ${w}`);
    perms.push(row);
  }
  if (model && objectPk && !(await modelInfo(model)?.describe?.(db, objectPk)))
    throw ValidationError.field('object_pk', 'Object does not exist.');
  return { perms, model, objectPk };
}

export function mountAssigned(router: ApiRouter, db: DB, roles: Roles) {
  const { load, visible } = roles;
  const objPerm = {
    type: 'object',
    description: 'Role-bound object level permission',
    properties: {
      id: { type: 'integer', readOnly: true },
      codename: { type: 'string', readOnly: true },
      model: { type: 'string', title: 'Python model class name', readOnly: true },
      app_label: { type: 'string', readOnly: true },
      object_pk: { type: 'string' },
      name: { type: 'string', readOnly: true },
    },
    required: ['app_label', 'codename', 'id', 'model', 'name', 'object_pk'],
  };
  router.component('RoleObjectPermission', objPerm);
  const { object_pk: _o, ...modelProps } = objPerm.properties;
  router.component('RoleModelPermission', {
    type: 'object',
    description: 'Role-bound object level permission',
    properties: modelProps,
    required: ['app_label', 'codename', 'id', 'model', 'name'],
  });
  router.component('RoleAssignedObjectPermission', {
    type: 'object',
    description: 'Roles assigned object permission serializer',
    properties: {
      role_pk: { type: 'string', readOnly: true },
      name: { type: 'string', readOnly: true },
      object_permissions: { type: 'array', items: { $ref: '#/components/schemas/RoleObjectPermission' } },
      model_permissions: { type: 'array', items: { $ref: '#/components/schemas/RoleModelPermission' } },
    },
    required: ['model_permissions', 'name', 'object_permissions', 'role_pk'],
  });
  router.component('ExtraRoleObjectPermission', {
    type: 'object',
    description: 'Role permission with additional object-related data',
    properties: {
      ...objPerm.properties,
      app_label_verbose: { type: 'string', readOnly: true },
      model_verbose: { type: 'string', readOnly: true },
      object_description: { type: 'string', nullable: true, readOnly: true },
    },
    required: [...objPerm.required, 'app_label_verbose', 'model_verbose', 'object_description'],
  });
  registerPaginated(router, 'RoleAssignedObjectPermission');
  registerPaginated(router, 'ExtraRoleObjectPermission');
  const assignRequest = {
    type: 'object',
    description: 'Request to assign a new permission',
    properties: {
      permissions: { type: 'array', items: { type: 'string', minLength: 1 } },
      model: { type: 'string', enum: modelLabels() },
      object_pk: { type: 'string', minLength: 1 },
    },
  };
  router.component('PermissionAssignRequest', { ...assignRequest, required: ['permissions'] });
  router.component('PatchedPermissionAssignRequest', assignRequest);
  router.component('PermissionAssignResult', {
    type: 'object',
    description: 'Result from assigning permissions to a user/role',
    properties: { id: { type: 'string' } },
    required: ['id'],
  });

  router.route('/rbac/permissions/assigned_by_roles', {
    get: {
      doc: {
        operationId: 'rbac_permissions_assigned_by_roles_list',
        tag: 'rbac',
        query: [
          ...listQueryParams(roleSpec),
          { name: 'model', schema: { type: 'string' }, required: true },
          { name: 'object_pk', schema: { type: 'string' } },
        ],
        response: 'PaginatedRoleAssignedObjectPermissionList',
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        const q = req.query as Query;
        const model = last(q.model);
        const objectPk = last(q.object_pk) || undefined;
        const err = modelChoice(model, 'model', true, (v) => `Select a valid choice. ${v} is not one of the available choices.`);
        if (err) throw new ValidationError(err);
        const [app, mdl] = model!.split('.') as [string, string];
        const perms = sql<number>`(select id from rbac_permissions where app_label = ${app} and model = ${mdl})`;
        const base = (await visible(db.selectFrom('roles').selectAll(), caller)).where((eb) =>
          eb.or([
            eb('roles.role_uuid', 'in', sql<string>`(select role_uuid from role_model_permissions where permission_id in ${perms})`),
            ...(objectPk
              ? [
                  eb(
                    'roles.role_uuid',
                    'in',
                    sql<string>`(select role_uuid from role_object_permissions where object_pk = ${objectPk} and permission_id in ${perms})`,
                  ),
                ]
              : []),
          ]),
        );
        return paginate(
          db,
          base,
          roleSpec,
          q,
          async (rows: RolesTable[]) => {
            const ids = rows.map((r) => r.role_uuid);
            if (!ids.length) return [];
            const modelPerms = await db
              .selectFrom('role_model_permissions as rp')
              .innerJoin('rbac_permissions as p', 'p.id', 'rp.permission_id')
              .select(['rp.id', 'rp.role_uuid', 'p.codename', 'p.model', 'p.app_label', 'p.name'])
              .where('rp.role_uuid', 'in', ids)
              .where('p.app_label', '=', app)
              .where('p.model', '=', mdl)
              .orderBy('rp.id')
              .execute();
            let oq = db
              .selectFrom('role_object_permissions as o')
              .innerJoin('rbac_permissions as p', 'p.id', 'o.permission_id')
              .select(['o.id', 'o.role_uuid', 'o.object_pk', 'p.codename', 'p.model', 'p.app_label', 'p.name'])
              .where('o.role_uuid', 'in', ids)
              .where('p.app_label', '=', app)
              .where('p.model', '=', mdl);
            if (objectPk) oq = oq.where('o.object_pk', '=', objectPk);
            const objectPerms = await oq.orderBy('o.id').execute();
            return rows.map((r) => ({
              role_pk: r.role_uuid,
              name: r.name,
              object_permissions: objectPerms
                .filter((p) => p.role_uuid === r.role_uuid)
                .map((p) => ({
                  id: Number(p.id),
                  codename: p.codename,
                  model: p.model,
                  app_label: p.app_label,
                  object_pk: p.object_pk,
                  name: p.name,
                })),
              model_permissions: modelPerms
                .filter((p) => p.role_uuid === r.role_uuid)
                .map((p) => ({ id: Number(p.id), codename: p.codename, model: p.model, app_label: p.app_label, name: p.name })),
            }));
          },
          caller,
        );
      },
    },
  });

  const uuidParam = [{ name: 'uuid', schema: { type: 'string', format: 'uuid', description: 'A UUID string identifying this Role.' } }];
  const audit = (req: FastifyRequest, role: RolesTable) =>
    router.audit?.(req, 'model_updated', { model: { app: 'authentik_rbac', model_name: 'role', pk: role.role_uuid, name: role.name } });

  router.route(
    '/rbac/permissions/assigned_by_roles/{uuid}/assign',
    {
      post: {
        doc: {
          operationId: 'rbac_permissions_assigned_by_roles_assign',
          tag: 'rbac',
          body: 'PermissionAssignRequest',
          bodyRequired: true,
          response: { type: 'array', items: { $ref: '#/components/schemas/PermissionAssignResult' } },
        },
        handler: async (req) => {
          const { row: role, caller } = await load(req, 'assign_role_permissions');
          const a = await parseAssignment(db, req.body, caller);
          const ids = await db.transaction().execute(async (tx) => {
            await lockConfigEpoch(tx);
            const out: { id: string }[] = [];
            for (const p of a.perms) {
              if (a.objectPk !== undefined) {
                await tx
                  .insertInto('role_object_permissions')
                  .values({ role_uuid: role.role_uuid, permission_id: p.id, object_pk: a.objectPk })
                  .onConflict((oc) => oc.columns(['role_uuid', 'permission_id', 'object_pk']).doNothing())
                  .execute();
                const r = await tx
                  .selectFrom('role_object_permissions')
                  .select('id')
                  .where('role_uuid', '=', role.role_uuid)
                  .where('permission_id', '=', p.id)
                  .where('object_pk', '=', a.objectPk)
                  .executeTakeFirstOrThrow();
                out.push({ id: String(r.id) });
              } else {
                await tx
                  .insertInto('role_model_permissions')
                  .values({ role_uuid: role.role_uuid, permission_id: p.id })
                  .onConflict((oc) => oc.columns(['role_uuid', 'permission_id']).doNothing())
                  .execute();
                const r = await tx
                  .selectFrom('role_model_permissions')
                  .select('id')
                  .where('role_uuid', '=', role.role_uuid)
                  .where('permission_id', '=', p.id)
                  .executeTakeFirstOrThrow();
                out.push({ id: String(r.id) });
              }
            }
            return out;
          });
          await audit(req, role);
          return ids;
        },
      },
    },
    uuidParam,
  );
  router.route(
    '/rbac/permissions/assigned_by_roles/{uuid}/unassign',
    {
      patch: {
        doc: {
          operationId: 'rbac_permissions_assigned_by_roles_unassign_partial_update',
          tag: 'rbac',
          body: 'PatchedPermissionAssignRequest',
          status: 204,
        },
        handler: async (req, reply) => {
          const { row: role, caller } = await load(req, 'unassign_role_permissions');
          // taking away needs no holding: only the right to unassign
          const a = await parseAssignment(db, req.body, { ...caller, superuser: true });
          await db.transaction().execute(async (tx) => {
            await lockConfigEpoch(tx);
            for (const p of a.perms) {
              if (a.objectPk !== undefined)
                await tx
                  .deleteFrom('role_object_permissions')
                  .where('role_uuid', '=', role.role_uuid)
                  .where('permission_id', '=', p.id)
                  .where('object_pk', '=', a.objectPk)
                  .execute();
              else
                await tx
                  .deleteFrom('role_model_permissions')
                  .where('role_uuid', '=', role.role_uuid)
                  .where('permission_id', '=', p.id)
                  .execute();
            }
          });
          await audit(req, role);
          reply.code(204);
          return reply.send();
        },
      },
    },
    uuidParam,
  );

  const objectSpec: ListSpec = {
    filters: {},
    search: ['p.codename', 'p.model', 'p.app_label', 'o.object_pk'],
    ordering: { id: 'o.id', codename: 'p.codename', object_pk: 'o.object_pk' },
    defaultOrdering: ['id'],
    pk: 'o.id',
  };
  router.route('/rbac/permissions/roles', {
    get: {
      doc: {
        operationId: 'rbac_permissions_roles_list',
        tag: 'rbac',
        query: [...listQueryParams(objectSpec), { name: 'uuid', schema: { type: 'string', format: 'uuid' } }],
        response: 'PaginatedExtraRoleObjectPermissionList',
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        const q = req.query as Query;
        const uuid = last(q.uuid);
        if (!uuid) throw ValidationError.field('uuid', 'This field is required.');
        if (!isUuid(uuid)) throw ValidationError.field('uuid', 'Enter a valid UUID.');
        // the role must be one the caller may see
        const role = await (await visible(db.selectFrom('roles').selectAll(), caller))
          .where('roles.role_uuid', '=', normalizeUuid(uuid))
          .executeTakeFirst();
        const base = db
          .selectFrom('role_object_permissions as o')
          .innerJoin('rbac_permissions as p', 'p.id', 'o.permission_id')
          .select(['o.id', 'o.object_pk', 'p.codename', 'p.model', 'p.app_label', 'p.name'])
          .where('o.role_uuid', '=', role ? role.role_uuid : '');
        return paginate(
          db,
          base,
          objectSpec,
          q,
          async (rows: { id: number; object_pk: string; codename: string; model: string; app_label: string; name: string }[]) =>
            Promise.all(
              rows.map(async (p) => {
                const label = `${p.app_label}.${p.model}`;
                // authentik shows the object's name only to whoever may view it
                const mayView = await can(db, caller, `${p.app_label}.view_${p.model}`, p.object_pk);
                return {
                  id: Number(p.id),
                  codename: p.codename,
                  model: p.model,
                  app_label: p.app_label,
                  object_pk: p.object_pk,
                  name: p.name,
                  app_label_verbose: appVerbose(p.app_label),
                  model_verbose: modelVerbose(p.app_label, p.model),
                  object_description: mayView ? ((await modelInfo(label)?.describe?.(db, p.object_pk)) ?? null) : null,
                };
              }),
            ),
          caller,
        );
      },
    },
  });
}
