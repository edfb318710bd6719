/**
 * /rbac/roles/: authentik's RoleViewSet (name, `users`/`groups` filters with `inherited`, `managed`), `add_user` and
 * `remove_user`. A role grants its permissions to its users and to the members of its groups (and their children).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { mountResource, type ResourceDef, type UsedBy } from '../rest/resource.js';
import { assignBlueprintPermissions } from './blueprint-permissions.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { paginate, parseBool, type ListSpec, type Query } from '../rest/list.js';
import { requireCaller } from '../rest/auth.js';
import { isUuid, normalizeUuid } from '../rest/validate.js';
import type { DB } from '../db/index.js';
import type { RolesTable } from '../db/types.js';
import { selfAndAncestors } from '../groups/membership.js';
import { held } from './check.js';
import type {} from './table.js';
import { userOfAccountBody } from '../users/by-id.js';
import { guardHoldsRoles } from './guards.js';

type Row = RolesTable;

const roleProps = {
  pk: S.ro(S.uuid({ title: 'Uuid' })),
  name: S.str({ 'x-unique': { table: 'roles', column: 'name', self: 'role_uuid', message: 'Role with this name already exists.' } }),
};

const last = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v);
/** these three are applied by the list handler (`inherited` changes what the other two mean); here they are checked */
const checked = (check: (v: string) => string | undefined, schema: Record<string, unknown>) => ({
  type: 'custom' as const,
  schema,
  parse: (values: string[]) => {
    const v = values[values.length - 1] ?? '';
    const e = check(v);
    return e ? { error: [e] } : { cond: undefined };
  },
});

const spec: ListSpec = {
  filters: {
    name: { type: 'str', column: 'roles.name' },
    users: checked((v) => (/^-?\d{1,10}$/.test(v) ? undefined : 'Enter a whole number.'), { type: 'integer' }),
    groups: checked((v) => (isUuid(v) ? undefined : 'Enter a valid UUID.'), { type: 'string', format: 'uuid' }),
    inherited: checked((v) => (parseBool(v) === undefined ? 'Enter a valid boolean.' : undefined), { type: 'boolean' }),
    managed: {
      type: 'custom',
      explode: true,
      schema: { type: 'array', items: { type: 'string' } },
      parse: (values) => ({ cond: (eb) => eb('roles.managed', 'in', values) }),
    },
    managed__isnull: { type: 'isnull', column: 'roles.managed' },
  },
  search: ['roles.name'],
  ordering: { name: 'roles.name', pk: 'roles.role_uuid' },
  defaultOrdering: ['name'],
  pk: 'roles.role_uuid',
  unique: ['roles.name'],
};

/** roles held by the user (directly, or through groups and their ancestors when `inherited`) */
const ofUser = (userId: number, inherited: boolean) =>
  inherited
    ? sql<string>`(${held(userId)} select role_uuid from held)`
    : sql<string>`(select ur.role_uuid from user_roles ur where ur.user_id = ${userId})`;

/** roles of the group (and of its ancestors when `inherited`) */
const ofGroup = (group: string, inherited: boolean) =>
  inherited
    ? sql<string>`(select gr.role_uuid from group_roles gr where gr.group_uuid in (${selfAndAncestors(group)} select group_uuid from up))`
    : sql<string>`(select gr.role_uuid from group_roles gr where gr.group_uuid = ${group})`;

async function roleUsedBy(db: DB, row: Row): Promise<UsedBy[]> {
  const sets = await db.selectFrom('initial_permissions').select(['id', 'name']).where('role_uuid', '=', row.role_uuid).execute();
  return sets.map((s) => ({
    app: 'authentik_rbac',
    model_name: 'initialpermissions',
    pk: String(s.id),
    name: s.name,
    action: 'cascade' as const,
  }));
}

export function mountRoles(router: ApiRouter, db: DB) {
  let visible: ReturnType<typeof mountResource<Row>>['visible'];
  const def: ResourceDef<Row> = {
    component: 'Role',
    model: 'Role',
    path: '/rbac/roles',
    opPrefix: 'rbac_roles',
    tag: 'rbac',
    lookup: { param: 'uuid', column: 'roles.role_uuid', rowKey: 'role_uuid', type: 'uuid' },
    props: roleProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_rbac.role', verbose: 'Role' },
    // a blueprint role entry's `permissions` (authentik's RoleSerializer in blueprint context)
    blueprintFields: {
      names: ['permissions'],
      apply: async (tx, key, values, ctx) =>
        values.permissions === undefined
          ? []
          : (await assignBlueprintPermissions(tx, ctx.caller, String(key), values.permissions)).map(
              (p) => `Permission not known to Keystage, left out: ${p}`,
            ),
    },
    list: spec,
    select: (d) => d.selectFrom('roles').selectAll(),
    render: async (_db, rows) => rows.map((r) => ({ pk: r.role_uuid, name: r.name })),
    listHandler: async (req) => {
      const caller = requireCaller(req);
      const q = req.query as Query;
      let base = await visible(db.selectFrom('roles').selectAll(), caller);
      const inherited = parseBool(last(q.inherited) ?? '') === true;
      const user = last(q.users);
      const group = last(q.groups);
      if (user !== undefined && /^-?\d{1,10}$/.test(user)) base = base.where('roles.role_uuid', 'in', ofUser(Number(user), inherited));
      if (group !== undefined && isUuid(group)) base = base.where('roles.role_uuid', 'in', ofGroup(normalizeUuid(group), inherited));
      return paginate(db, base, spec, q, async (rows: Row[]) => rows.map((r) => ({ pk: r.role_uuid, name: r.name })), caller);
    },
    insert: async (tx, data) => {
      const id = randomUUID();
      await tx
        .insertInto('roles')
        .values({ role_uuid: id, name: data.name as string, managed: null })
        .execute();
      return id;
    },
    update: async (tx, existing, data) => {
      if (data.name !== undefined)
        await tx
          .updateTable('roles')
          .set({ name: data.name as string })
          .where('role_uuid', '=', existing.role_uuid)
          .execute();
      return existing.role_uuid;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('roles').where('role_uuid', '=', existing.role_uuid).execute();
    },
    usedBy: roleUsedBy,
  };
  const mounted = mountResource(router, db, def);
  visible = mounted.visible;
  const { load } = mounted;

  router.component('UserAccountSerializerForRoleRequest', {
    type: 'object',
    description: 'Account adding/removing operations',
    properties: { pk: { type: 'integer' } },
    required: ['pk'],
  });
  /**
   * as the groups' actions: the role (404, or 403 without change_role on it), the body (400), the user (404, also for
   * one the caller may not view), 204
   */
  const member =
    (add: boolean) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const { row, caller } = await load(req, 'change');
      // a role's permissions are given to someone only by whoever holds them all
      if (add) await guardHoldsRoles(db, caller, [row.role_uuid]);
      const user = await userOfAccountBody(db, req.body, caller);
      if (add)
        await db
          .insertInto('user_roles')
          .values({ user_id: user.id, role_uuid: row.role_uuid })
          .onConflict((oc) => oc.columns(['user_id', 'role_uuid']).doNothing())
          .execute();
      else await db.deleteFrom('user_roles').where('user_id', '=', user.id).where('role_uuid', '=', row.role_uuid).execute();
      await router.audit?.(req, 'model_updated', {
        model: { app: 'authentik_rbac', model_name: 'role', pk: row.role_uuid, name: row.name },
      });
      reply.code(204);
      return reply.send();
    };
  for (const [name, add] of [
    ['add_user', true],
    ['remove_user', false],
  ] as const)
    router.route(
      `/rbac/roles/{uuid}/${name}`,
      {
        post: {
          doc: {
            operationId: `rbac_roles_${name}_create`,
            tag: 'rbac',
            body: 'UserAccountSerializerForRoleRequest',
            bodyRequired: true,
            status: 204,
          },
          handler: member(add),
        },
      },
      [{ name: 'uuid', schema: { type: 'string', format: 'uuid', description: 'A UUID string identifying this Role.' } }],
    );
  return mounted;
}
