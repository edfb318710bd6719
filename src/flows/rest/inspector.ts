import type { ApiRouter } from '../../rest/routes.js';
import type { Services } from '../../services.js';
import { NotFound } from '../../rest/errors.js';
import { can } from '../../rbac/check.js';
import { renderBaseStages } from '../../stages/base.js';
import { stageTypeByKind } from '../../stages/registry.js';
import type { DB } from '../../db/index.js';
import type { Plan, PlanBinding } from '../engine/plan.js';
import { policyContext } from '../engine/policy-request.js';
import { bindingResource } from './bindings.js';
import { cleanseDict } from '../../events/diff.js';

/** authentik's FlowStageBindingSerializer().data: a binding's writable fields with their initial values */
const NO_BINDING = {
  target: null,
  stage: null,
  evaluate_on_plan: false,
  re_evaluate_policies: false,
  order: null,
  policy_engine_mode: null,
  invalid_response_action: null,
};

/**
 * authentik's sanitize_dict of a plan's context: objects as their references; values under credential-like keys
 * (the context's own and the prompt data's) cleansed as events cleanse them
 */
function sanitisedContext(plan: Plan): Record<string, unknown> {
  const ctx = cleanseDict(policyContext(plan.context, undefined, undefined, true));
  // a user as authentik's sanitize_dict gives one (events/utils.py get_user)
  const user = ctx.pending_user as { pk?: unknown; username?: unknown; email?: unknown } | undefined;
  if (user && typeof user === 'object') ctx.pending_user = { username: user.username ?? '', pk: user.pk ?? null, email: user.email ?? '' };
  if (ctx.prompt_data && typeof ctx.prompt_data === 'object') ctx.prompt_data = cleanseDict(ctx.prompt_data as Record<string, unknown>);
  return ctx;
}

/** each plan binding as /flows/bindings/ renders it; a stage a provider or source put in (no row) from the plan */
async function renderBindings(db: DB, wanted: { b: PlanBinding; flow: string }[]): Promise<Map<PlanBinding, Record<string, unknown>>> {
  const ids = [...new Set(wanted.map((w) => w.b.fsb_uuid))];
  const rows = (ids.length ? await bindingResource.select(db).where('b.fsb_uuid', 'in', ids).execute() : []) as {
    fsb_uuid: string;
    stage: string;
  }[];
  const rendered = rows.length ? await bindingResource.render(db, rows as never, undefined as never) : [];
  const byId = new Map(rows.map((r, i) => [r.fsb_uuid, { stage: r.stage, api: rendered[i] as Record<string, unknown> }]));
  const unstored = wanted.filter((w) => byId.get(w.b.fsb_uuid)?.stage !== w.b.stage_uuid).map((w) => w.b);
  const found = unstored.length
    ? await db
        .selectFrom('stages')
        .select(['stage_uuid', 'name', 'kind'])
        .where(
          'stage_uuid',
          'in',
          unstored.map((b) => b.stage_uuid),
        )
        .execute()
    : [];
  // a stage without a row (a provider's or source's, kept in memory) is named by its key, as the base stage renders it
  const stageRows = [
    ...found,
    ...unstored
      .filter((b) => !found.some((f) => f.stage_uuid === b.stage_uuid))
      .map((b) => ({ stage_uuid: b.stage_uuid, name: b.stage_uuid, kind: b.kind })),
  ];
  const stageObjs = await renderBaseStages(db, stageRows, stageTypeByKind);
  const stageById = new Map(stageRows.map((s, i) => [s.stage_uuid, stageObjs[i]]));
  const out = new Map<PlanBinding, Record<string, unknown>>();
  for (const { b, flow } of wanted) {
    const kept = byId.get(b.fsb_uuid);
    if (kept && kept.stage === b.stage_uuid) {
      out.set(b, kept.api);
      continue;
    }
    // a stage inserted at run time (a provider's, a source's, one a stage put next): a binding that is not stored
    out.set(b, {
      pk: b.fsb_uuid,
      policybindingmodel_ptr_id: '',
      target: flow,
      stage: b.stage_uuid,
      stage_obj: stageById.get(b.stage_uuid),
      evaluate_on_plan: false,
      re_evaluate_policies: b.re_evaluate_policies,
      order: 0,
      policy_engine_mode: 'any',
      invalid_response_action: b.invalid_response_action,
    });
  }
  return out;
}

/** authentik's FlowInspectorPlanSerializer, for each plan (their bindings read in one go) */
async function renderPlans(db: DB, plans: Plan[], sessionId: string) {
  const api = await renderBindings(
    db,
    plans.flatMap((p) => p.bindings.slice(0, 2).map((b) => ({ b, flow: p.flow_uuid }))),
  );
  return plans.map((p) => ({
    current_stage: p.bindings[0] ? api.get(p.bindings[0]) : NO_BINDING,
    next_planned_stage: p.bindings[1] ? api.get(p.bindings[1]) : NO_BINDING,
    plan_context: sanitisedContext(p),
    session_id: sessionId,
  }));
}

export function mountInspector(router: ApiRouter, svc: Services) {
  const plan = { $ref: '#/components/schemas/FlowInspectorPlan' };
  router.component('FlowInspectorPlan', {
    type: 'object',
    description: 'Serializer for an active FlowPlan',
    properties: {
      current_stage: { allOf: [{ $ref: '#/components/schemas/FlowStageBinding' }], readOnly: true },
      next_planned_stage: { allOf: [{ $ref: '#/components/schemas/FlowStageBinding' }], readOnly: true },
      plan_context: { type: 'object', additionalProperties: {}, description: "Get the plan's context, sanitized", readOnly: true },
      session_id: { type: 'string', description: 'Get a unique session ID', readOnly: true },
    },
    required: ['current_stage', 'next_planned_stage', 'plan_context', 'session_id'],
  });
  router.component('FlowInspection', {
    type: 'object',
    description: 'Serializer for inspect endpoint',
    properties: { plans: { type: 'array', items: plan }, current_plan: plan, is_completed: { type: 'boolean' } },
    required: ['is_completed', 'plans'],
  });
  router.route(
    '/flows/inspector/{flow_slug}',
    {
      get: {
        doc: { operationId: 'flows_inspector_get', tag: 'flows', response: 'FlowInspection' },
        handler: async (req, reply) => {
          const slug = (req.params as { flow_slug: string }).flow_slug;
          const flow = await svc.db.selectFrom('flows').select('flow_uuid').where('slug', '=', slug).executeTakeFirst();
          const caller = req.caller;
          if (!flow || !caller || !(await can(svc.db, caller, 'authentik_flows.inspect_flow', flow.flow_uuid))) throw NotFound.plain();
          const session = await svc.sessions.load(req);
          const history = session.data.inspector?.plans ?? [];
          const current = session.data.plan ?? history.at(-1);
          if (!current || !session.key) return reply.code(400).send();
          const sessionId = session.key;
          const rendered = await renderPlans(svc.db, [...history, current], sessionId);
          return { plans: rendered.slice(0, -1), current_plan: rendered.at(-1), is_completed: !session.data.plan };
        },
      },
    },
    [{ name: 'flow_slug', schema: { type: 'string' } }],
  );
}
