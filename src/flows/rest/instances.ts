/** /flows/instances/: the flow resource and its extra actions (diagram, execute, export, cache). */
import { requestOrigin } from '../../brands/links.js';
import { hasGlobal, requirePermission } from '../../rbac/check.js';
import { Forbidden } from '../../rest/errors.js';
import { sendBadRequestPage } from '../../ui/bad-request.js';
import { targetUsedBy } from '../../policies/base.js';
import { flowProvidersUsedBy } from '../../providers/base.js';
import { providerTypeByKind } from '../../providers/registry.js';
import { deleteBindingsOf } from '../../policies/targets.js';
import { startFlow } from '../engine/start.js';
import { mountExplain } from './explain.js';
import { mountInspector } from './inspector.js';
import { flowDiagram } from './diagram.js';
import { exportFlow } from '../../blueprints/exporter.js';
import { mountResource, type ResourceDef, type UsedBy } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { rowToApi, apiToRow } from '../../rest/serialize.js';
import type { DB } from '../../db/index.js';
import type { FlowsTable } from '../../db/types.js';
import { stageKinds, stageTypeByKind } from '../../stages/registry.js';
import { DENIED_ACTIONS, DESIGNATIONS, flowProps } from './schema.js';
import { exportUrl } from './render.js';
import { backgroundUrl } from '../background.js';
import { themedAssetUrls } from '../../files/names.js';
import { insertFlow } from '../store.js';
import type { Services } from '../../services.js';
import { brandsUsingFlow } from '../../brands/resource.js';
import { sourcesUsingFlow } from '../../sources/all.js';

type FlowRow = FlowsTable & { pk: string; policybindingmodel_ptr_id: string };

/** each target's values, in order, each once */
function listsByTarget(pairs: [string, string][]): Map<string, string[]> {
  const map = new Map<string, string[]>();
  for (const [target, value] of pairs) {
    const list = map.get(target) ?? [];
    if (!list.includes(value)) list.push(value);
    map.set(target, list);
  }
  return map;
}

async function stagesOf(db: DB, flowIds: string[]): Promise<Map<string, string[]>> {
  if (!flowIds.length) return new Map();
  const rows = await db
    .selectFrom('flow_bindings')
    .select(['target', 'stage'])
    .where('target', 'in', flowIds)
    .orderBy('order')
    .orderBy('fsb_uuid')
    .execute();
  return listsByTarget(rows.map((r) => [r.target, r.stage]));
}

/** the policies bound to each flow (authentik's PolicyBindingModel.policies: bindings of a policy, not of a user or group) */
async function policiesOf(db: DB, targets: string[]): Promise<Map<string, string[]>> {
  if (!targets.length) return new Map();
  const rows = await db
    .selectFrom('policy_bindings')
    .select(['target', 'policy'])
    .where('target', 'in', targets)
    .where('policy', 'is not', null)
    .orderBy('order')
    .execute();
  return listsByTarget(rows.map((r) => [r.target, r.policy!]));
}

export async function renderFlows(db: DB, rows: FlowRow[]) {
  const stages = await stagesOf(
    db,
    rows.map((r) => r.flow_uuid),
  );
  const policies = await policiesOf(
    db,
    rows.map((r) => r.pbm_uuid),
  );
  return rows.map((r) => ({
    ...rowToApi(flowProps, r),
    background_url: backgroundUrl(r.background),
    background_themed_urls: themedAssetUrls(r.background),
    stages: stages.get(r.flow_uuid) ?? [],
    policies: policies.get(r.pbm_uuid) ?? [],
    cache_count: 0,
    export_url: exportUrl(r.slug),
  }));
}

const bindingName = (order: number, target: string) => `Flow-stage binding #${order} to ${target}`;

async function flowUsedBy(db: DB, row: FlowRow): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  const bindings = await db
    .selectFrom('flow_bindings')
    .innerJoin('stages', 'stages.stage_uuid', 'flow_bindings.stage')
    .select(['flow_bindings.fsb_uuid', 'flow_bindings.order', 'flow_bindings.target', 'stages.stage_uuid', 'stages.name'])
    .where('flow_bindings.target', '=', row.flow_uuid)
    .orderBy('flow_bindings.order')
    .execute();
  for (const b of bindings)
    out.push({
      app: 'authentik_flows',
      model_name: 'flowstagebinding',
      pk: b.fsb_uuid,
      name: bindingName(b.order, b.target),
      action: 'cascade',
    });
  // stages whose `configure_flow` points here (reverse FK, set null)
  for (const kind of stageKinds()) {
    const def = stageTypeByKind(kind)!;
    for (const [field, s] of Object.entries(def.fields)) {
      const ref = s['x-ref'] as { table: string } | undefined;
      if (!ref || ref.table !== 'flows' || s['x-no-reverse']) continue;
      const rows = await db
        .selectFrom(`${def.table} as t` as 'stages')
        .innerJoin('stages as s', 's.stage_uuid', 't.stage_uuid' as 'stages.stage_uuid')
        .select(['s.stage_uuid', 's.name'])
        .where(`t.${field}` as 'stages.name', '=', row.flow_uuid)
        .execute();
      for (const r of rows) out.push({ app: def.app, model_name: def.kind, pk: r.stage_uuid, name: `Stage ${r.name}`, action: 'set_null' });
    }
  }
  out.push(...(await flowProvidersUsedBy(db, row.flow_uuid, providerTypeByKind)));
  // brands naming this flow (authentik: SET_NULL on each flow field)
  out.push(...(await brandsUsingFlow(db, row.flow_uuid)));
  // sources naming this flow as their authentication or enrollment flow (SET_NULL)
  out.push(...(await sourcesUsingFlow(db, row.flow_uuid)));
  out.push(...(await targetUsedBy(db, row.pbm_uuid, `Flow ${row.name} (${row.slug})`)));
  const seen = new Set<string>();
  for (const b of bindings) {
    if (seen.has(b.stage_uuid)) continue;
    seen.add(b.stage_uuid);
    out.push({ app: 'authentik_flows', model_name: 'stage', pk: b.stage_uuid, name: `Stage ${b.name}`, action: 'cascade_many' });
  }
  return out;
}

export const flowResource: ResourceDef<FlowRow> = {
  component: 'Flow',
  model: 'Flow',
  path: '/flows/instances',
  opPrefix: 'flows_instances',
  tag: 'flows',
  lookup: { param: 'slug', column: 'slug', type: 'slug' },
  props: flowProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_flows.flow', verbose: 'Flow', pk: { column: 'flow_uuid', rowKey: 'flow_uuid' } },
  list: {
    filters: {
      flow_uuid: { type: 'uuid', column: 'flow_uuid' },
      name: { type: 'str', column: 'name' },
      slug: { type: 'str', column: 'slug' },
      designation: { type: 'enum', column: 'designation', values: DESIGNATIONS },
      denied_action: { type: 'enum', column: 'denied_action', values: DENIED_ACTIONS },
    },
    search: ['name', 'slug', 'designation', 'title', 'denied_action'],
    ordering: Object.fromEntries(
      [
        'name',
        'slug',
        'title',
        'designation',
        'background',
        'policy_engine_mode',
        'compatibility_mode',
        'layout',
        'denied_action',
        'authentication',
      ]
        .map((k) => [k, k] as [string, string])
        .concat([
          ['pk', 'flow_uuid'],
          ['policybindingmodel_ptr_id', 'pbm_uuid'],
        ]),
    ),
    defaultOrdering: ['slug', 'name'],
    pk: 'flow_uuid',
  },
  select: (db) => db.selectFrom('flows').selectAll().select(['flow_uuid as pk', 'pbm_uuid as policybindingmodel_ptr_id']),
  render: (db, rows) => renderFlows(db, rows),
  insert: async (tx, data) => {
    await insertFlow(tx, data);
    return data.slug as string;
  },
  update: async (tx, existing, data) => {
    const values = apiToRow(flowProps, data);
    if (Object.keys(values).length)
      await tx
        .updateTable('flows')
        .set(values as never)
        .where('flow_uuid', '=', existing.flow_uuid)
        .execute();
    return (data.slug as string | undefined) ?? existing.slug;
  },
  remove: async (tx, existing) => {
    // the policy bindings of the flow and of its stage bindings go with them
    const pbms = await tx.selectFrom('flow_bindings').select('pbm_uuid').where('target', '=', existing.flow_uuid).execute();
    await deleteBindingsOf(tx, [existing.pbm_uuid, ...pbms.map((b) => b.pbm_uuid)]);
    await tx.deleteFrom('flows').where('flow_uuid', '=', existing.flow_uuid).execute();
  },
  usedBy: flowUsedBy,
};

/** /flows/instances/ with its diagram and explanation, and the flow inspector beside it */
/** the global permissions an export needs besides `export_flow` on the flow (authentik's FlowViewSet.export) */
const EXPORT_VIEWS = [
  'authentik_flows.view_flow',
  'authentik_flows.view_flowstagebinding',
  'authentik_flows.view_stage',
  'authentik_policies.view_policy',
  'authentik_policies.view_policybinding',
  'authentik_stages_prompt.view_prompt',
];

export function mountFlows(router: ApiRouter, svc: Services) {
  const { db } = svc;
  const { load } = mountResource(router, db, flowResource);
  const slugParam = [{ name: 'slug', schema: { type: 'string' } }];
  mountExplain(router, svc, load);
  mountInspector(router, svc);
  router.route(
    '/flows/instances/{slug}/diagram',
    {
      get: {
        doc: { operationId: 'flows_instances_diagram_retrieve', tag: 'flows', response: 'FlowDiagram' },
        handler: async (req) => ({ diagram: await flowDiagram(db, req.caller!, (await load(req, 'view')).row) }),
      },
    },
    slugParam,
  );
  router.route(
    '/flows/instances/{slug}/execute',
    {
      get: {
        doc: { operationId: 'flows_instances_execute_retrieve', tag: 'flows', response: 'Link' },
        handler: async (req, reply) => {
          const { row } = await load(req, 'view');
          // the flow is planned now with the caller as the pending user and kept in their session (upstream)
          // (a token caller has no session to keep it in: it only gets the link)
          // a flow that does not apply: authentik's bad_request_message, with the denying policies' messages
          let messages: string[] = [];
          const start = { user: req.caller?.user, denied: (m: string[]) => (messages = m) };
          if (req.caller?.via === 'session' && !(await startFlow(svc, row, start, req, reply)))
            return sendBadRequestPage(
              reply,
              `Flow not applicable to current user/request: ${messages.length ? messages.join(', ') : 'Flow does not apply to current user.'}`,
            );
          return { link: `${requestOrigin(req)}/if/flow/${row.slug}/` };
        },
      },
    },
    slugParam,
  );
  router.route(
    '/flows/instances/{slug}/export',
    {
      get: {
        doc: { operationId: 'flows_instances_export_retrieve', tag: 'flows', response: { type: 'string', format: 'binary' } },
        handler: async (req, reply) => {
          const { row, caller } = await load(req, 'export_flow');
          // the export holds the flow's bindings, stages, prompts and policies: the caller must be able to see all of
          // them (authentik's permission_required with global view permissions)
          for (const perm of EXPORT_VIEWS) if (!(await hasGlobal(db, caller, perm))) throw Forbidden.permission();
          reply.header('content-disposition', `attachment; filename="${row.slug}.yaml"`).type('application/yaml');
          return exportFlow(router.models, db, req, row.flow_uuid);
        },
      },
    },
    slugParam,
  );
  router.route('/flows/instances/cache_info', {
    get: {
      doc: { operationId: 'flows_instances_cache_info_retrieve', tag: 'flows', response: 'Cache' },
      handler: async (req) => {
        await requirePermission(svc.db, req, 'authentik_flows.view_flow_cache');
        return { count: 0 };
      },
    },
  });
  router.route('/flows/instances/cache_clear', {
    post: {
      doc: { operationId: 'flows_instances_cache_clear_create', tag: 'flows', status: 204 },
      handler: async (req, reply) => {
        await requirePermission(svc.db, req, 'authentik_flows.clear_flow_cache');
        reply.code(204);
        return reply.send();
      },
    },
  });
}
