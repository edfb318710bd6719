/** /core/groups/ as a REST resource: validation, writes and rendering through the shared resource machinery. */
import { checkAttributes } from '../attributes/validate.js';
import type { ResourceDef, UsedBy } from '../rest/resource.js';
import type { DB } from '../db/index.js';
import { guardGroupWrite } from '../rbac/guards.js';
import { subjectUsedBy } from '../policies/base.js';
import { groupProps } from './schema.js';
import { groupFilters, groupSearch } from './filters.js';
import { type GroupRow, includeFlags, renderGroups } from './render.js';
import { deleteGroup, insertGroup, updateGroup } from './store.js';

const flag = (name: string, dflt: boolean) => ({ name, schema: { type: 'boolean', default: dflt } });
const INCLUDE = [
  flag('include_children', false),
  flag('include_inherited_roles', false),
  flag('include_parents', false),
  flag('include_users', true),
];

export function groupResource(installId: string): ResourceDef<GroupRow> {
  return {
    component: 'Group',
    model: 'Group',
    path: '/core/groups',
    opPrefix: 'core_groups',
    tag: 'core',
    lookup: { param: 'group_uuid', column: 'group_uuid', type: 'uuid' },
    props: groupProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    // authentik's group permissions through roles (src/rbac/); becoming a superuser stays guarded (rbac/guards.ts)
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_core.group', verbose: 'Group' },
    list: {
      filters: groupFilters,
      search: ['groups.name'],
      searchQuery: groupSearch,
      ordering: {
        name: 'groups.name',
        is_superuser: 'groups.is_superuser',
        num_pk: 'groups.num_pk',
        pk: 'groups.group_uuid',
        group_uuid: 'groups.group_uuid',
      },
      defaultOrdering: ['name'],
      pk: 'groups.group_uuid',
      unique: ['groups.name', 'groups.num_pk'],
    },
    extraQuery: INCLUDE,
    retrieveQuery: INCLUDE,
    select: (db) => db.selectFrom('groups').selectAll(),
    render: (db, rows, req) => renderGroups(db, rows, installId, includeFlags(req)),
    validate: async (data, ctx, existing) => {
      // DRF's `default=list` on `users` and `parents`: a PUT without them clears them (`roles` has no default)
      if (ctx.mode === 'update') {
        data.users ??= [];
        data.parents ??= [];
      }
      await guardGroupWrite(ctx.db, ctx.caller, existing, data);
    },
    // the object attributes of groups (src/attributes/), checked in the write's transaction as the users' are
    insert: async (tx, data) => {
      await checkAttributes(tx, 'authentik_core.group', data.attributes ?? {});
      return insertGroup(tx, data);
    },
    update: async (tx, existing, data) => {
      if (data.attributes !== undefined) await checkAttributes(tx, 'authentik_core.group', data.attributes, existing.group_uuid);
      return updateGroup(tx, existing.group_uuid, data);
    },
    remove: (tx, existing) => deleteGroup(tx, existing.group_uuid),
    usedBy: groupUsedBy,
  };
}

/**
 * What a group's deletion touches, as authentik's `used_by` lists a group's related managers (in their attribute
 * order): child groups, parent groups, roles and members, each losing only the link (cascade_many); then its policy
 * bindings, deleted with it (cascade).
 */
async function groupUsedBy(db: DB, row: GroupRow): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  const children = await db
    .selectFrom('group_parents as e')
    .innerJoin('groups as g', 'g.group_uuid', 'e.child_uuid')
    .select(['g.group_uuid', 'g.name'])
    .where('e.parent_uuid', '=', row.group_uuid)
    .orderBy('g.name')
    .execute();
  for (const g of children)
    out.push({ app: 'authentik_core', model_name: 'group', pk: g.group_uuid, name: `Group ${g.name}`, action: 'cascade_many' });
  const parents = await db
    .selectFrom('group_parents as e')
    .innerJoin('groups as g', 'g.group_uuid', 'e.parent_uuid')
    .select(['g.group_uuid', 'g.name'])
    .where('e.child_uuid', '=', row.group_uuid)
    .orderBy('g.name')
    .execute();
  for (const g of parents)
    out.push({ app: 'authentik_core', model_name: 'group', pk: g.group_uuid, name: `Group ${g.name}`, action: 'cascade_many' });
  const roles = await db
    .selectFrom('group_roles as gr')
    .innerJoin('roles as r', 'r.role_uuid', 'gr.role_uuid')
    .select(['r.role_uuid', 'r.name'])
    .where('gr.group_uuid', '=', row.group_uuid)
    .orderBy('r.name')
    .execute();
  for (const r of roles)
    out.push({ app: 'authentik_rbac', model_name: 'role', pk: r.role_uuid, name: `Role ${r.name}`, action: 'cascade_many' });
  const users = await db
    .selectFrom('user_groups as m')
    .innerJoin('users as u', 'u.id', 'm.user_id')
    .select(['u.id', 'u.username'])
    .where('m.group_uuid', '=', row.group_uuid)
    .orderBy('u.id')
    .execute();
  for (const u of users)
    out.push({ app: 'authentik_core', model_name: 'user', pk: String(u.id), name: u.username, action: 'cascade_many' });
  // the policy bindings of this group go with it
  out.push(...(await subjectUsedBy(db, { group: row.group_uuid }, row.name)));
  return out;
}
