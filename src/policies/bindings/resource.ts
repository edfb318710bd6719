/**
 * /policies/bindings/: a policy, a group or a user bound to a flow, a flow-stage binding, an application, … —
 * `expiring`/`expires` shown as stored, read-only (bindings/expiry.ts).
 */
import { newPk } from '../../rest/requested-pk.js';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { apiToRow, rowToApi } from '../../rest/serialize.js';
import { ValidationError } from '../../rest/errors.js';
import { isUuid, normalizeUuid } from '../../rest/validate.js';
import type { DB } from '../../db/index.js';
import { partialUser } from '../../users/render.js';
import { partialGroup } from '../../groups/render.js';
import type { UsersTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import type { PolicyBindingsTable } from '../table.js';
import { renderBasePolicies } from '../base.js';
import { policyTypeByKind } from '../registry.js';
import { ALL_BINDING_KINDS, type BindingKind, describeTargets, resolveTarget } from '../targets.js';
import { policyBindingProps } from './schema.js';

type Row = PolicyBindingsTable & { pk: string };

/** the targets a request named by their own key, resolved to pbm_uuids before the write */
const resolved = new WeakMap<object, string>();

async function render(db: DB, rows: Row[], installId: string) {
  const policyIds = rows.map((r) => r.policy).filter((x): x is string => !!x);
  const groupIds = rows.map((r) => r.group).filter((x): x is string => !!x);
  const userIds = rows.map((r) => r.user).filter((x): x is number => x !== null && x !== undefined);
  const [policies, groups, users, targets] = await Promise.all([
    policyIds.length ? db.selectFrom('policies').selectAll().where('policy_uuid', 'in', policyIds).execute() : [],
    groupIds.length ? db.selectFrom('groups').selectAll().where('group_uuid', 'in', groupIds).execute() : [],
    userIds.length ? db.selectFrom('users').selectAll().where('id', 'in', userIds).execute() : [],
    describeTargets(
      db,
      rows.map((r) => r.target),
    ),
  ]);
  const renderedPolicies = new Map((await renderBasePolicies(db, policies, policyTypeByKind)).map((p) => [p.pk, p] as const));
  const groupById = new Map(groups.map((g) => [g.group_uuid, g]));
  const userById = new Map((users as UsersTable[]).map((u) => [u.id, u]));
  return rows.map((r) => {
    const o = rowToApi(policyBindingProps, r);
    o.pk = r.policy_binding_uuid;
    o.target = targets.get(r.target)?.pk ?? r.target;
    o.policy_obj = r.policy ? (renderedPolicies.get(r.policy) ?? null) : null;
    const g = r.group ? groupById.get(r.group) : undefined;
    o.group_obj = g ? partialGroup(g) : null;
    const u = r.user !== null && r.user !== undefined ? userById.get(Number(r.user)) : undefined;
    o.user_obj = u ? partialUser(u, installId) : null;
    return o;
  });
}

export function policyBindingResource(svc: Services): ResourceDef<Row> {
  return {
    component: 'PolicyBinding',
    model: 'PolicyBinding',
    path: '/policies/bindings',
    opPrefix: 'policies_bindings',
    tag: 'policies',
    lookup: { param: 'policy_binding_uuid', column: 'b.policy_binding_uuid', rowKey: 'policy_binding_uuid', type: 'uuid' },
    props: policyBindingProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_policies.policybinding', verbose: 'Policy Binding' },
    list: {
      // (a blueprint names a binding by its target and its group or user, as authentik's identifiers may)
      identifierColumns: { group: { column: 'b.group' }, user: { column: 'b.user', int: true } },
      filters: {
        policy: { type: 'fk', column: 'b.policy', ref: { table: 'policies', column: 'policy_uuid' } },
        policy__isnull: { type: 'isnull', column: 'b.policy' },
        target: { type: 'uuid', column: 'b.target' },
        target_in: {
          type: 'custom',
          parse: (values) => {
            const ids = values.flatMap((v) => v.split(',')).filter((v) => v !== '');
            if (!ids.length) return { cond: undefined };
            const bad = ids.find((v) => !isUuid(v));
            if (bad) return { error: [`“${bad}” is not a valid UUID.`] };
            const norm = ids.map(normalizeUuid);
            return { cond: (eb) => eb('b.target', 'in', norm) };
          },
          schema: { type: 'array', items: { type: 'string', format: 'uuid' } },
          explode: true,
        },
        enabled: { type: 'bool', column: 'b.enabled' },
        order: { type: 'int', column: 'b.order' },
        timeout: { type: 'int', column: 'b.timeout' },
      },
      search: ['p.name'],
      ordering: { target: 'b.target', order: 'b.order', pk: 'b.policy_binding_uuid' },
      defaultOrdering: ['target', 'order'],
      pk: 'b.policy_binding_uuid',
    },
    select: (db) =>
      db
        .selectFrom('policy_bindings as b')
        .leftJoin('policies as p', 'p.policy_uuid', 'b.policy')
        .selectAll('b')
        .select('b.policy_binding_uuid as pk'),
    render: (db, rows) => render(db, rows, svc.installId),
    validate: async (data, ctx, existing) => {
      let supported: readonly BindingKind[] = ALL_BINDING_KINDS;
      if (data.target !== undefined) {
        const t = await resolveTarget(ctx.db, data.target as string);
        if (!t) throw new ValidationError({ target: [`Invalid pk "${data.target}" - object does not exist.`] });
        resolved.set(ctx.req, t.pbm_uuid);
        supported = t.supported;
      } else {
        resolved.delete(ctx.req); // (one request may write several: a blueprint)
        if (existing) supported = (await describeTargets(ctx.db, [existing.target])).get(existing.target)?.supported ?? ALL_BINDING_KINDS;
      }
      // authentik's BasePolicyBindingSerializer.validate: exactly one of what the target supports
      const kinds = supported;
      const quoted = kinds.map((x) => `'${x}'`).join(', ');
      const value = (k: BindingKind) => (data[k] !== undefined ? data[k] : existing?.[k]);
      const count = kinds.filter((k) => value(k) !== null && value(k) !== undefined).length;
      if (count > 1) throw ValidationError.nonField(`Only one of ${quoted} can be set.`);
      if (count < 1) throw ValidationError.nonField(`One of ${quoted} must be set.`);
      // authentik's unique_together (policy, target, order), checked when a policy is set (as DRF does)
      const policy = value('policy') as string | null | undefined;
      const target = resolved.get(ctx.req) ?? existing?.target;
      const order = (data.order ?? existing?.order) as number;
      if (policy && target) {
        let q = ctx.db
          .selectFrom('policy_bindings')
          .select('policy_binding_uuid')
          .where('policy', '=', policy)
          .where('target', '=', target)
          .where('order', '=', order);
        if (existing) q = q.where('policy_binding_uuid', '<>', existing.policy_binding_uuid);
        if (await q.executeTakeFirst()) throw ValidationError.nonField('The fields policy, target, order must make a unique set.');
      }
    },
    insert: async (tx, data, ctx) => {
      const policy_binding_uuid = newPk();
      const values = apiToRow(policyBindingProps, data);
      await tx
        .insertInto('policy_bindings')
        .values({ ...values, policy_binding_uuid, target: resolved.get(ctx.req) } as never)
        .execute();
      return policy_binding_uuid;
    },
    update: async (tx, existing, data, ctx) => {
      const values = apiToRow(policyBindingProps, data);
      if (data.target !== undefined) values.target = resolved.get(ctx.req);
      if (Object.keys(values).length)
        await tx
          .updateTable('policy_bindings')
          .set(values as never)
          .where('policy_binding_uuid', '=', existing.policy_binding_uuid)
          .execute();
      return existing.policy_binding_uuid;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('policy_bindings').where('policy_binding_uuid', '=', existing.policy_binding_uuid).execute();
    },
    usedBy: async () => [],
  };
}

export function mountPolicyBindings(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, policyBindingResource(svc));
}
