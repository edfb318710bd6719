/**
 * `/requests/rules/` (authentik's RequestRuleViewSet): a rule says who may approve requests for the objects it is
 * bound to — its own policy bindings (a rule without any has nobody to approve) — how many approvals it takes
 * (`min_reviewers`, counted per group with `min_reviewers_is_per_group`; one approval by a user bound directly is
 * enough), which flow a request runs (`request_flow`, else the brand's `flow_request`), and whom to notify of a new
 * request through which transports (`notification_mode`).
 */
import { Type } from '@sinclair/typebox';
import { targetUsedBy } from '../policies/base.js';
import { deleteBindingsOf } from '../policies/targets.js';
import { newPk } from '../rest/requested-pk.js';
import { mountResource, type ResourceDef, type Tx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import type { Services } from '../services.js';
import type { DB } from '../db/index.js';
import type { RequestRulesTable } from './table.js';

export const NOTIFICATION_MODES = ['all', 'direct', 'random_min_reviewers'] as const;
const MODES = ['all', 'any'] as const;

export const ruleProps = {
  uuid: S.uuid({
    'x-optional': true,
    'x-unique': { table: 'request_rules', column: 'uuid', self: 'uuid', message: 'Request Rule with this uuid already exists.' },
  }),
  pbm_uuid: S.ro(S.uuid()),
  policy_engine_mode: S.enumOf(MODES, { default: 'any' }),
  name: S.str(),
  targets: S.ro(Type.Array(S.uuid(), { 'x-computed': true })),
  notification_transports: S.m2m({ table: 'notification_transports', column: 'uuid' }, { default: [], 'x-m2m-table': true }),
  notification_mode: S.enumOf(NOTIFICATION_MODES, { default: 'all' }),
  min_reviewers: S.int({ minimum: 0, maximum: 32767, default: 1 }),
  min_reviewers_is_per_group: S.bool({ default: false }),
  request_flow: S.fk({ table: 'flows', column: 'flow_uuid' }, { default: null }),
};

async function setTransports(tx: Tx, rule: string, transports: string[] | undefined) {
  if (!transports) return;
  await tx.deleteFrom('request_rule_transports').where('rule', '=', rule).execute();
  for (const t of new Set(transports)) await tx.insertInto('request_rule_transports').values({ rule, transport: t }).execute();
}

/** the rules as the API shows them (also inside a rule binding's `rule_obj`) */
export async function renderRules(db: DB, rows: RequestRulesTable[]): Promise<Record<string, unknown>[]> {
  const ids = rows.map((r) => r.uuid);
  const transports = ids.length ? await db.selectFrom('request_rule_transports').selectAll().where('rule', 'in', ids).execute() : [];
  const targets = ids.length
    ? await db.selectFrom('request_rule_bindings').select(['rule', 'target']).where('rule', 'in', ids).execute()
    : [];
  return rows.map((r) => ({
    uuid: r.uuid,
    pbm_uuid: r.pbm_uuid,
    policy_engine_mode: r.policy_engine_mode === 'all' ? 'all' : 'any',
    name: r.name,
    targets: [...new Set(targets.filter((t) => t.rule === r.uuid).map((t) => t.target))].sort(),
    notification_transports: transports
      .filter((t) => t.rule === r.uuid)
      .map((t) => t.transport)
      .sort(),
    notification_mode: r.notification_mode,
    min_reviewers: Number(r.min_reviewers),
    min_reviewers_is_per_group: !!r.min_reviewers_is_per_group,
    request_flow: r.request_flow,
  }));
}

function columns(data: Record<string, unknown>): Partial<RequestRulesTable> {
  const set: Partial<RequestRulesTable> = {};
  for (const k of ['name', 'policy_engine_mode', 'notification_mode', 'min_reviewers', 'request_flow'] as const)
    if (data[k] !== undefined) (set as Record<string, unknown>)[k] = data[k];
  if (data.min_reviewers_is_per_group !== undefined) set.min_reviewers_is_per_group = data.min_reviewers_is_per_group ? 1 : 0;
  return set;
}

export const ruleResource: ResourceDef<RequestRulesTable> = {
  component: 'RequestRule',
  model: 'Request Rule',
  path: '/requests/rules',
  opPrefix: 'requests_rules',
  tag: 'requests',
  lookup: { param: 'uuid', column: 'r.uuid', rowKey: 'uuid', type: 'uuid' },
  props: ruleProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_requests.requestrule', verbose: 'Request Rule' },
  list: {
    filters: {
      name: { type: 'str', column: 'r.name' },
      pbm_uuid: { type: 'uuid', column: 'r.pbm_uuid' },
      request_flow__slug: { type: 'str', column: 'f.slug' },
    },
    search: ['r.name'],
    ordering: { name: 'r.name', uuid: 'r.uuid', created: 'r.created' },
    defaultOrdering: ['name'],
    pk: 'r.uuid',
  },
  select: (db) => db.selectFrom('request_rules as r').leftJoin('flows as f', 'f.flow_uuid', 'r.request_flow').selectAll('r'),
  render: (db, rows) => renderRules(db, rows),
  insert: async (tx, data) => {
    const uuid = typeof data.uuid === 'string' ? data.uuid : newPk();
    const now = new Date().toISOString();
    await tx
      .insertInto('request_rules')
      .values({
        uuid,
        pbm_uuid: newPk(),
        name: String(data.name),
        policy_engine_mode: 'any',
        notification_mode: 'all',
        min_reviewers: 1,
        min_reviewers_is_per_group: 0,
        request_flow: null,
        created: now,
        last_updated: now,
        ...columns(data),
      })
      .execute();
    await setTransports(tx, uuid, (data.notification_transports as string[] | undefined) ?? []);
    return uuid;
  },
  update: async (tx, existing, data) => {
    await tx
      .updateTable('request_rules')
      .set({ ...columns(data), last_updated: new Date().toISOString() })
      .where('uuid', '=', existing.uuid)
      .execute();
    await setTransports(tx, existing.uuid, data.notification_transports as string[] | undefined);
    return existing.uuid;
  },
  remove: async (tx, existing) => {
    const bindings = await tx.selectFrom('request_rule_bindings').select('pbm_uuid').where('rule', '=', existing.uuid).execute();
    await deleteBindingsOf(tx, [existing.pbm_uuid, ...bindings.map((b) => b.pbm_uuid)]);
    await tx.deleteFrom('request_rules').where('uuid', '=', existing.uuid).execute();
  },
  usedBy: async (db, row) => {
    const bindings = await db
      .selectFrom('request_rule_bindings as b')
      .innerJoin('applications as a', 'a.pbm_uuid', 'b.target')
      .select(['b.uuid', 'a.name'])
      .where('b.rule', '=', row.uuid)
      .orderBy('a.name')
      .execute();
    return [
      ...(await targetUsedBy(db, row.pbm_uuid, `Request Rule ${row.name}`)),
      ...bindings.map((b) => ({
        app: 'authentik_requests',
        model_name: 'requestrulebinding',
        pk: b.uuid,
        name: `Request Rule Binding ${row.name} to ${b.name}`,
        action: 'cascade' as const,
      })),
    ];
  },
};

export function mountRules(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, ruleResource);
}
