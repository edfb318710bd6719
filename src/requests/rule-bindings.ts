/**
 * `/requests/rule-bindings/` (authentik's RequestRuleBindingViewSet): a rule bound to an application, which makes the
 * application requestable by whoever passes the binding's own policy bindings (none: the system settings' default
 * application access decides, as for an application without bindings); `expiry_pending` is how long a request stays
 * open, `expiry_granted_max` the longest a grant lasts. `/requests/rule-child-bindings/` adds entitlements of the
 * same application, requestable through the same binding.
 */
import { Type } from '@sinclair/typebox';
import { targetUsedBy } from '../policies/base.js';
import { deleteBindingsOf } from '../policies/targets.js';
import type { DB } from '../db/index.js';
import { ValidationError } from '../rest/errors.js';
import { newPk } from '../rest/requested-pk.js';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import type { Services } from '../services.js';
import { renderRules } from './rules.js';
import type { RequestRuleBindingsTable, RequestRuleChildBindingsTable, RequestRulesTable } from './table.js';

const MODES = ['all', 'any'] as const;

/** authentik's RelatedTargetSerializer: an entitlement as a rule binding names it */
export const relatedTargetSchema = Type.Object(
  {
    verbose_name: S.ro(Type.String({ description: "Return object's verbose_name" })),
    verbose_name_plural: S.ro(Type.String({ description: "Return object's plural verbose_name" })),
    meta_model_name: S.ro(Type.String({ description: 'Return internal model name' })),
    pbm_uuid: S.ro(Type.String()),
    label: S.ro(Type.String()),
  },
  { description: 'Simplified related target object' },
);

const bindingProps = {
  uuid: S.uuid({
    'x-optional': true,
    'x-unique': {
      table: 'request_rule_bindings',
      column: 'uuid',
      self: 'uuid',
      message: 'Request Rule Binding with this uuid already exists.',
    },
  }),
  pbm_uuid: S.ro(S.uuid()),
  policy_engine_mode: S.enumOf(MODES, { default: 'any' }),
  rule: S.fk({ table: 'request_rules', column: 'uuid' }, { nullable: false }),
  rule_obj: S.ro(Type.Unsafe({ $ref: '#/components/schemas/RequestRule', 'x-computed': true })),
  target: S.fk({ table: 'applications', column: 'pbm_uuid' }, { nullable: false }),
  related: S.ro(Type.Array(S.uuid(), { 'x-computed': true })),
  related_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/RelatedTarget' }), { 'x-computed': true })),
  expiry_pending: S.duration({
    default: 'hours=1',
    description: 'How long a request against this binding stays pending before it automatically lapses if not approved or denied.',
  }),
  expiry_granted_max: S.duration({
    default: 'hours=1',
    description: 'The maximum duration a grant approved against this binding can last.',
  }),
};

type BindingRow = RequestRuleBindingsTable & { rule_name: string };

/** an entitlement as authentik's MetaNameSerializer + `requestable_label` show it */
export const entitlementTarget = (e: { pbm_uuid: string; name: string }) => ({
  verbose_name: 'Application Entitlement',
  verbose_name_plural: 'Application Entitlements',
  meta_model_name: 'authentik_core.applicationentitlement',
  pbm_uuid: e.pbm_uuid,
  label: e.name,
});

async function renderBindings(db: DB, rows: BindingRow[]) {
  const ids = rows.map((r) => r.uuid);
  const ruleIds = [...new Set(rows.map((r) => r.rule))];
  const rules = ruleIds.length
    ? await renderRules(
        db,
        (await db.selectFrom('request_rules').selectAll().where('uuid', 'in', ruleIds).execute()) as RequestRulesTable[],
      )
    : [];
  const children = ids.length
    ? await db
        .selectFrom('request_rule_child_bindings as c')
        .innerJoin('application_entitlements as e', 'e.pbm_uuid', 'c.target')
        .select(['c.binding', 'e.pbm_uuid', 'e.name'])
        .where('c.binding', 'in', ids)
        .orderBy('e.name')
        .execute()
    : [];
  return rows.map((r) => {
    const related = children.filter((c) => c.binding === r.uuid);
    return {
      uuid: r.uuid,
      pbm_uuid: r.pbm_uuid,
      policy_engine_mode: r.policy_engine_mode === 'all' ? 'all' : 'any',
      rule: r.rule,
      rule_obj: rules.find((x) => x.uuid === r.rule),
      target: r.target,
      related: related.map((c) => c.pbm_uuid),
      related_obj: related.map(entitlementTarget),
      expiry_pending: r.expiry_pending,
      expiry_granted_max: r.expiry_granted_max,
    };
  });
}

function bindingColumns(data: Record<string, unknown>): Partial<RequestRuleBindingsTable> {
  const set: Partial<RequestRuleBindingsTable> = {};
  for (const k of ['rule', 'target', 'policy_engine_mode', 'expiry_pending', 'expiry_granted_max'] as const)
    if (data[k] !== undefined) (set as Record<string, unknown>)[k] = data[k];
  return set;
}

export const ruleBindingResource: ResourceDef<BindingRow> = {
  component: 'RequestRuleBinding',
  model: 'Request Rule Binding',
  path: '/requests/rule-bindings',
  opPrefix: 'requests_rule_bindings',
  tag: 'requests',
  lookup: { param: 'uuid', column: 'b.uuid', rowKey: 'uuid', type: 'uuid' },
  props: bindingProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_requests.requestrulebinding', verbose: 'Request Rule Binding' },
  list: {
    filters: { rule: { type: 'uuid', column: 'b.rule' }, target: { type: 'uuid', column: 'b.target' } },
    search: ['r.name'],
    ordering: { rule__name: 'r.name', uuid: 'b.uuid' },
    defaultOrdering: ['rule__name'],
    pk: 'b.uuid',
  },
  select: (db) =>
    db
      .selectFrom('request_rule_bindings as b')
      .innerJoin('request_rules as r', 'r.uuid', 'b.rule')
      .selectAll('b')
      .select('r.name as rule_name'),
  render: (db, rows) => renderBindings(db, rows),
  validate: async (data, ctx, existing) => {
    // an application's entitlements bound through this binding stay the application's
    if (existing && data.target !== undefined && data.target !== existing.target) {
      const child = await ctx.db
        .selectFrom('request_rule_child_bindings')
        .select('uuid')
        .where('binding', '=', existing.uuid)
        .executeTakeFirst();
      if (child) throw new ValidationError({ target: ['Remove the child bindings of this binding before changing its target.'] });
    }
  },
  insert: async (tx, data) => {
    const uuid = typeof data.uuid === 'string' ? data.uuid : newPk();
    await tx
      .insertInto('request_rule_bindings')
      .values({
        uuid,
        pbm_uuid: newPk(),
        rule: String(data.rule),
        target: String(data.target),
        policy_engine_mode: 'any',
        expiry_pending: 'hours=1',
        expiry_granted_max: 'hours=1',
        ...bindingColumns(data),
      })
      .execute();
    return uuid;
  },
  update: async (tx, existing, data) => {
    const set = bindingColumns(data);
    if (Object.keys(set).length) await tx.updateTable('request_rule_bindings').set(set).where('uuid', '=', existing.uuid).execute();
    return existing.uuid;
  },
  remove: async (tx, existing) => {
    await deleteBindingsOf(tx, [existing.pbm_uuid]);
    await tx.deleteFrom('request_rule_bindings').where('uuid', '=', existing.uuid).execute();
  },
  usedBy: async (db, row) => {
    const children = await db
      .selectFrom('request_rule_child_bindings as c')
      .innerJoin('application_entitlements as e', 'e.pbm_uuid', 'c.target')
      .select(['c.uuid', 'e.name'])
      .where('c.binding', '=', row.uuid)
      .orderBy('e.name')
      .execute();
    return [
      ...(await targetUsedBy(db, row.pbm_uuid, `Request Rule Binding ${row.rule_name}`)),
      ...children.map((c) => ({
        app: 'authentik_requests',
        model_name: 'requestrulechildbinding',
        pk: c.uuid,
        name: `Request Rule Child Binding to ${c.name}`,
        action: 'cascade' as const,
      })),
    ];
  },
};

const childProps = {
  uuid: S.uuid({
    'x-optional': true,
    'x-unique': {
      table: 'request_rule_child_bindings',
      column: 'uuid',
      self: 'uuid',
      message: 'Request Rule Child Binding with this uuid already exists.',
    },
  }),
  binding: S.fk({ table: 'request_rule_bindings', column: 'uuid' }, { nullable: false }),
  target: S.fk({ table: 'application_entitlements', column: 'pbm_uuid' }, { nullable: false }),
};

export const ruleChildBindingResource: ResourceDef<RequestRuleChildBindingsTable> = {
  component: 'RequestRuleChildBinding',
  model: 'Request Rule Child Binding',
  path: '/requests/rule-child-bindings',
  opPrefix: 'requests_rule_child_bindings',
  tag: 'requests',
  lookup: { param: 'uuid', column: 'c.uuid', rowKey: 'uuid', type: 'uuid' },
  props: childProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_requests.requestrulechildbinding', verbose: 'Request Rule Child Binding' },
  list: {
    filters: { binding: { type: 'uuid', column: 'c.binding' }, target: { type: 'uuid', column: 'c.target' } },
    search: ['e.name'],
    ordering: { uuid: 'c.uuid', target__name: 'e.name' },
    defaultOrdering: ['uuid'],
    pk: 'c.uuid',
  },
  select: (db) =>
    db.selectFrom('request_rule_child_bindings as c').innerJoin('application_entitlements as e', 'e.pbm_uuid', 'c.target').selectAll('c'),
  render: async (_db, rows) => rows.map((r) => ({ uuid: r.uuid, binding: r.binding, target: r.target })),
  validate: async (data, ctx, existing) => {
    const binding = String(data.binding ?? existing?.binding);
    const target = String(data.target ?? existing?.target);
    const parent = await ctx.db.selectFrom('request_rule_bindings').select('target').where('uuid', '=', binding).executeTakeFirst();
    const entitlement = await ctx.db.selectFrom('application_entitlements').select('app').where('pbm_uuid', '=', target).executeTakeFirst();
    if (parent && entitlement && entitlement.app !== parent.target)
      throw new ValidationError({ target: ["The entitlement must belong to the binding's application."] });
    const twin = await ctx.db
      .selectFrom('request_rule_child_bindings')
      .select('uuid')
      .where('binding', '=', binding)
      .where('target', '=', target)
      .executeTakeFirst();
    if (twin && twin.uuid !== existing?.uuid)
      throw new ValidationError({ non_field_errors: ['The fields binding, target must make a unique set.'] });
  },
  insert: async (tx, data) => {
    const uuid = typeof data.uuid === 'string' ? data.uuid : newPk();
    await tx
      .insertInto('request_rule_child_bindings')
      .values({ uuid, binding: String(data.binding), target: String(data.target) })
      .execute();
    return uuid;
  },
  update: async (tx, existing, data) => {
    const set: Partial<RequestRuleChildBindingsTable> = {};
    if (data.binding !== undefined) set.binding = String(data.binding);
    if (data.target !== undefined) set.target = String(data.target);
    if (Object.keys(set).length) await tx.updateTable('request_rule_child_bindings').set(set).where('uuid', '=', existing.uuid).execute();
    return existing.uuid;
  },
  remove: async (tx, existing) => {
    await tx.deleteFrom('request_rule_child_bindings').where('uuid', '=', existing.uuid).execute();
  },
  usedBy: async () => [],
};

export function mountRuleBindings(router: ApiRouter, svc: Services) {
  router.component('RelatedTarget', relatedTargetSchema);
  mountResource(router, svc.db, ruleBindingResource);
  mountResource(router, svc.db, ruleChildBindingResource);
}
