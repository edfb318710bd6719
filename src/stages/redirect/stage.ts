/**
 * The redirect stage at run time (authentik's RedirectStageView): a redirect challenge (`xak-flow-redirect`) to the
 * static URL — never to a javascript:, data: or vbscript: URL, whatever was stored — or, in `flow` mode, to another
 * flow: that flow is planned now, with this plan's context when `keep_context` (plus `is_redirected`, the flow it
 * came from), into this session, and the person is sent to its page with the same query. A target flow that does not
 * apply to the person, or is gone, ends this flow with access denied. A policy may set the target instead
 * (`redirect_stage_target` in the flow context).
 */
import { deny, ok, show, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { planFlow } from '../../flows/engine/planner.js';
import type { FlowContext } from '../../flows/engine/context.js';
import type { FlowsTable } from '../../db/types.js';
import { isSuperuser } from '../../rest/auth.js';
import type { StageConfig } from '../types.js';
import { isSafeTarget, type redirectSchema } from './schema.js';

export type RedirectConfig = StageConfig<typeof redirectSchema>;
type Call = StageCall<RedirectConfig>;

const NO_TARGET = "No target found for Redirect stage. The stage's target_flow may have been deleted.";

const redirect = (to: string): Outcome => show({ component: 'xak-flow-redirect', to });

async function toFlow(c: Call, flowUuid: string): Promise<Outcome> {
  const flow = (await c.svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', flowUuid).executeTakeFirst()) as
    | FlowsTable
    | undefined;
  if (!flow) return deny(NO_TARGET);
  // (a policy's redirect_stage_target was for this stage: the next flow does not inherit it)
  const { stages: _own, redirectStageTarget: _target, ...kept } = c.ctx;
  const context: FlowContext = c.config.keep_context ? structuredClone(kept) : {};
  context.isRedirected = { pk: c.flow.flow_uuid, slug: c.flow.slug };
  const user = c.requestUser;
  const r = await planFlow(c.svc, flow, { user, superuser: user ? await isSuperuser(c.svc.db, user.id) : false }, context, { req: c.req });
  if (r.type === 'not_applicable') return deny(r.messages.join('\n') || undefined);
  // the session continues with the target flow (a flow without stages still carries the context to its end)
  c.session.data.plan = r.type === 'plan' ? r.plan : { flow_uuid: flow.flow_uuid, bindings: [], context };
  c.session.dirty = true;
  const qs = new URLSearchParams(c.query).toString();
  return redirect(`/if/flow/${encodeURIComponent(flow.slug)}/${qs ? `?${qs}` : ''}`);
}

/**
 * authentik's `redirect_stage_target`, written into the flow context by a policy: `ak-flow://slug` switches to that
 * flow (as flow mode does, with this stage's keep_context), anything else is the URL; a flow that does not exist, or
 * a URL a browser may not be sent to, leaves the stage's own target
 */
async function overridden(c: Call): Promise<Outcome | undefined> {
  const target = c.ctx.redirectStageTarget;
  if (!target) return undefined;
  if (target.startsWith('ak-flow://')) {
    const slug = target.slice('ak-flow://'.length).split(/[/?#]/)[0] ?? '';
    const flow = await c.svc.db.selectFrom('flows').select('flow_uuid').where('slug', '=', slug).executeTakeFirst();
    if (flow) return toFlow(c, flow.flow_uuid);
    c.req.log.warn({ slug }, 'Flow set by redirect_stage_target does not exist');
    return undefined;
  }
  return isSafeTarget(target) ? redirect(target) : undefined;
}

async function run(c: Call): Promise<Outcome> {
  const override = await overridden(c);
  if (override) return override;
  if (c.config.mode === 'flow') return c.config.target_flow ? toFlow(c, c.config.target_flow) : deny(NO_TARGET);
  const to = c.config.target_static;
  if (!to || !isSafeTarget(to)) return deny(NO_TARGET);
  return redirect(to);
}

export const redirectRuntime: StageRuntime<RedirectConfig> = {
  component: 'xak-flow-redirect',
  withUserInfo: false,
  challenge: run,
  // a response (the client says it followed the redirect): authentik passes the stage
  respond: async () => ok(),
};
