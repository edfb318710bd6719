/**
 * `GET /flows/instances/{slug}/explain/?user=<pk>` (a Keystage extension, superusers only): the plan the user would
 * get if they ran the flow now, each policy binding with its result and messages, and why each stage would run or
 * be skipped — "why was my stage skipped?" answered without running the flow. Policies run as authentik's `debug`
 * requests: no reputation change, no policy events; one event records that the explanation was asked.
 */
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { ApiRouter } from '../../rest/routes.js';
import { isSuperuser } from '../../rest/auth.js';
import { ValidationError } from '../../rest/errors.js';
import type { FlowsTable } from '../../db/types.js';
import { userById } from '../../users/by-id.js';
import type { Services } from '../../services.js';
import type { PolicyVerdict } from '../../policies/engine/engine.js';
import { authenticationAllows, bindingObject, flowBindings, planFlow, type PlanTrace } from '../engine/planner.js';
import { policyContext, requestOf } from '../engine/policy-request.js';
import type { FlowContext } from '../engine/context.js';

const verdictOut = (v: PolicyVerdict | undefined, mode: string) =>
  v && {
    mode,
    passing: v.passing,
    messages: v.messages,
    bindings: v.bindings.map((b) => ({
      pk: b.binding,
      order: b.order,
      bound: b.bound.type,
      name: b.bound.name,
      ...(b.bound.type === 'policy' ? { policy: b.bound.pk, policy_type: b.bound.kind } : {}),
      negate: b.negate,
      passing: b.passing,
      messages: b.messages,
      ...(b.error ? { error: b.error } : {}),
    })),
  };

export async function explainFlow(svc: Services, flow: FlowsTable, userPk: number, req: FastifyRequest) {
  const user = await userById(svc.db, userPk);
  if (!user) throw new ValidationError({ user: [`Invalid pk "${userPk}" - object does not exist.`] });
  const who = { user, superuser: await isSuperuser(svc.db, user.id) };
  // as when the user runs it logged in: they are the pending user from the start
  const context: FlowContext = { pendingUser: { id: user.id, username: user.username, email: user.email, name: user.name } };
  const trace: PlanTrace = { bindings: [] };
  const authOk = authenticationAllows(flow, who, context);
  const result = await planFlow(svc, flow, who, context, { req, debug: true, trace });
  const rows = await flowBindings(svc.db, flow.flow_uuid);
  const names = new Map(
    (rows.length
      ? await svc.db
          .selectFrom('stages')
          .select(['stage_uuid', 'name'])
          .where(
            'stage_uuid',
            'in',
            rows.map((r) => r.stage),
          )
          .execute()
      : []
    ).map((s) => [s.stage_uuid, s.name]),
  );
  const planned = new Set(result.type === 'plan' ? result.plan.bindings.map((b) => b.fsb_uuid) : []);
  const stages = [];
  for (const r of rows) {
    const t = trace.bindings.find((b) => b.fsb_uuid === r.fsb_uuid);
    const onPlan = r.evaluate_on_plan === true || r.evaluate_on_plan === 1;
    const onRun = r.re_evaluate_policies === true || r.re_evaluate_policies === 1;
    let verdict = t?.verdict;
    let runs: boolean;
    let reason: string;
    if (!t) {
      runs = false;
      reason = authOk
        ? 'The flow does not apply to this user, so nothing is planned.'
        : "The flow's authentication requirement excludes this user.";
    } else if (onPlan && verdict && !verdict.passing) {
      runs = false;
      reason = 'Left out of the plan: its policies failed at planning (evaluate_on_plan).';
    } else if (onRun && (await svc.policies.hasBindings(r.pbm_uuid))) {
      // what re-evaluation would decide with what is known now (later stages may change the context)
      const plan = result.type === 'plan' ? result.plan : undefined;
      verdict = await svc.policies.check({
        target: r.pbm_uuid,
        mode: r.policy_engine_mode === 'all' ? 'all' : 'any',
        request: requestOf(user, policyContext(context, user, { flow, bindings: plan?.bindings ?? [] }), bindingObject(r), req, true),
      });
      runs = verdict.passing;
      reason = verdict.passing
        ? 'Planned; its policies pass now and are checked again when the stage comes up (re_evaluate_policies).'
        : 'Planned, but its policies fail now: skipped when it comes up unless earlier stages change the context (re_evaluate_policies).';
    } else {
      runs = planned.has(r.fsb_uuid);
      reason = verdict ? 'Planned: its policies passed at planning.' : 'Planned: no policies are evaluated for this binding.';
    }
    stages.push({
      binding: r.fsb_uuid,
      stage: { pk: r.stage, name: names.get(r.stage) ?? '', kind: r.kind },
      evaluate_on_plan: onPlan,
      re_evaluate_policies: onRun,
      planned: planned.has(r.fsb_uuid),
      runs,
      reason,
      policies: verdictOut(verdict, r.policy_engine_mode) ?? null,
    });
  }
  await svc.events.emit('custom_', {
    user: { pk: req.caller!.user.id, username: req.caller!.user.username, email: req.caller!.user.email },
    req,
    context: {
      message: 'Flow explanation',
      flow: { pk: flow.flow_uuid, slug: flow.slug },
      for_user: { pk: user.id, username: user.username },
    },
  });
  return {
    flow: flow.slug,
    user: { pk: user.id, username: user.username },
    applies: result.type !== 'not_applicable',
    authentication: { requirement: flow.authentication, passing: authOk },
    policies: verdictOut(trace.flow, flow.policy_engine_mode) ?? null,
    messages: result.type === 'not_applicable' ? result.messages : [],
    stages,
  };
}

const verdictSchema = Type.Object({
  mode: Type.String(),
  passing: Type.Boolean(),
  messages: Type.Array(Type.String()),
  bindings: Type.Array(
    Type.Object({
      pk: Type.String({ format: 'uuid' }),
      order: Type.Integer(),
      bound: Type.String({ enum: ['policy', 'group', 'user'] } as never),
      name: Type.String(),
      policy: Type.Optional(Type.String({ format: 'uuid' })),
      policy_type: Type.Optional(Type.String()),
      negate: Type.Boolean(),
      passing: Type.Boolean(),
      messages: Type.Array(Type.String()),
      error: Type.Optional(Type.String()),
    }),
  ),
});

export function mountExplain(
  router: ApiRouter,
  svc: Services,
  load: (req: FastifyRequest, action?: string) => Promise<{ row: FlowsTable }>,
) {
  router.component('FlowExplanation', {
    ...Type.Object({
      flow: Type.String(),
      user: Type.Object({ pk: Type.Integer(), username: Type.String() }),
      applies: Type.Boolean(),
      authentication: Type.Object({ requirement: Type.String(), passing: Type.Boolean() }),
      policies: { ...verdictSchema, nullable: true },
      messages: Type.Array(Type.String()),
      stages: Type.Array(
        Type.Object({
          binding: Type.String({ format: 'uuid' }),
          stage: Type.Object({ pk: Type.String({ format: 'uuid' }), name: Type.String(), kind: Type.String() }),
          evaluate_on_plan: Type.Boolean(),
          re_evaluate_policies: Type.Boolean(),
          planned: Type.Boolean(),
          runs: Type.Boolean(),
          reason: Type.String(),
          policies: { ...verdictSchema, nullable: true },
        }),
      ),
    }),
    description: 'Keystage extension: the plan a user would get, and why each stage would run or be skipped.',
  });
  router.route(
    '/flows/instances/{slug}/explain',
    {
      get: {
        doc: {
          operationId: 'flows_instances_explain_retrieve',
          tag: 'flows',
          query: [{ name: 'user', schema: { type: 'integer' } }],
          response: 'FlowExplanation',
        },
        handler: async (req) => {
          const { row } = await load(req, 'inspect_flow');
          const raw = (req.query as Record<string, string | undefined>).user;
          if (raw === undefined || raw === '') throw new ValidationError({ user: ['This field is required.'] });
          if (!/^\d+$/.test(raw)) throw new ValidationError({ user: ['A valid integer is required.'] });
          return explainFlow(svc, row, Number(raw), req);
        },
      },
    },
    [{ name: 'slug', schema: { type: 'string' } }],
  );
}
