/** /flows/bindings/: which stage runs at which position of which flow. */
import { targetUsedBy } from '../../policies/base.js';
import { deleteBindingsOf } from '../../policies/targets.js';
import { sql } from 'kysely';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { apiToRow, rowToApi } from '../../rest/serialize.js';
import { ValidationError } from '../../rest/errors.js';
import type { BindingsTable } from '../../db/types.js';
import { renderBaseStages } from '../../stages/base.js';
import { stageTypeByKind } from '../../stages/registry.js';
import { bindingProps, INVALID_RESPONSE_ACTIONS, POLICY_ENGINE_MODES } from './schema.js';
import { insertBinding } from '../store.js';
import type { Services } from '../../services.js';

type Row = BindingsTable & { pk: string; policybindingmodel_ptr_id: string; stage_name: string; stage_kind: string };

const truthy = (v: unknown) => v === true || v === 1;

export const bindingResource: ResourceDef<Row> = {
  component: 'FlowStageBinding',
  model: 'FlowStageBinding',
  path: '/flows/bindings',
  opPrefix: 'flows_bindings',
  tag: 'flows',
  lookup: { param: 'fsb_uuid', column: 'b.fsb_uuid', rowKey: 'fsb_uuid', type: 'uuid' },
  props: bindingProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_flows.flowstagebinding', verbose: 'Flow Stage Binding' },
  list: {
    filters: {
      fsb_uuid: { type: 'uuid', column: 'b.fsb_uuid' },
      pbm_uuid: { type: 'uuid', column: 'b.pbm_uuid' },
      target: { type: 'fk', column: 'b.target', ref: { table: 'flows', column: 'flow_uuid' } },
      stage: { type: 'fk', column: 'b.stage', ref: { table: 'stages', column: 'stage_uuid' } },
      evaluate_on_plan: { type: 'bool', column: 'b.evaluate_on_plan' },
      re_evaluate_policies: { type: 'bool', column: 'b.re_evaluate_policies' },
      order: { type: 'int', column: 'b.order' },
      policy_engine_mode: { type: 'enum', column: 'b.policy_engine_mode', values: POLICY_ENGINE_MODES },
      invalid_response_action: { type: 'enum', column: 'b.invalid_response_action', values: INVALID_RESPONSE_ACTIONS },
      // the policies bound to the binding (authentik: the M2M through PolicyBinding): any of the given pks
      policies: {
        type: 'm2m',
        ref: { table: 'policies', column: 'policy_uuid' },
        exists: (eb, ids) =>
          eb.exists(
            eb
              .selectFrom('policy_bindings as pb')
              .select(sql`1`.as('one'))
              .whereRef('pb.target', '=', 'b.pbm_uuid')
              .where('pb.policy', 'in', ids),
          ),
      },
    },
    search: ['st.name'],
    ordering: { order: 'b.order', stage__name: 'st.name', target__uuid: 'b.target', pk: 'b.fsb_uuid' },
    defaultOrdering: ['order'],
    pk: 'b.fsb_uuid',
  },
  select: (db) =>
    db
      .selectFrom('flow_bindings as b')
      .innerJoin('stages as st', 'st.stage_uuid', 'b.stage')
      .selectAll('b')
      .select(['b.fsb_uuid as pk', 'b.pbm_uuid as policybindingmodel_ptr_id', 'st.name as stage_name', 'st.kind as stage_kind']),
  render: async (db, rows) => {
    const stages = await renderBaseStages(
      db,
      rows.map((r) => ({ stage_uuid: r.stage, name: r.stage_name, kind: r.stage_kind })),
      stageTypeByKind,
    );
    return rows.map((r, i) => ({ ...rowToApi(bindingProps, r), stage_obj: stages[i] }));
  },
  validate: async (data, ctx, existing) => {
    const onPlan = data.evaluate_on_plan ?? (existing ? truthy(existing.evaluate_on_plan) : false);
    const onRun = data.re_evaluate_policies ?? (existing ? truthy(existing.re_evaluate_policies) : true);
    if (!onPlan && !onRun) throw ValidationError.nonField('Either evaluation on plan or evaluation on run must be enabled');
    const target = (data.target ?? existing?.target) as string;
    const stage = (data.stage ?? existing?.stage) as string;
    const order = (data.order ?? existing?.order) as number;
    let q = ctx.db
      .selectFrom('flow_bindings')
      .select('fsb_uuid')
      .where('target', '=', target)
      .where('stage', '=', stage)
      .where('order', '=', order);
    if (existing) q = q.where('fsb_uuid', '<>', existing.fsb_uuid);
    if (await q.executeTakeFirst()) throw ValidationError.nonField('The fields target, stage, order must make a unique set.');
  },
  insert: (tx, data) => insertBinding(tx, data),
  update: async (tx, existing, data) => {
    const values = apiToRow(bindingProps, data);
    if (Object.keys(values).length)
      await tx
        .updateTable('flow_bindings')
        .set(values as never)
        .where('fsb_uuid', '=', existing.fsb_uuid)
        .execute();
    return existing.fsb_uuid;
  },
  remove: async (tx, existing) => {
    await deleteBindingsOf(tx, [existing.pbm_uuid]);
    await tx.deleteFrom('flow_bindings').where('fsb_uuid', '=', existing.fsb_uuid).execute();
  },
  usedBy: (db, row) => targetUsedBy(db, row.pbm_uuid, `Flow-stage binding #${row.order} to ${row.target}`),
};

export function mountBindings(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, bindingResource);
}
