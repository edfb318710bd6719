/** Browser entry points around flows: default-flow redirects, cancel, and a stage's configure flow. */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import type { FlowsTable } from '../../db/types.js';
import { isRelative } from '../engine/challenge.js';
import { startFlow } from '../engine/start.js';
import type { Services } from '../../services.js';

const NOT_FOUND = '<h1>Not Found</h1>';

/**
 * authentik's ToDefaultFlow: the request's brand's flow for the designation (`flow_authentication`,
 * `flow_invalidation`) when it names one, else the first flow of that designation (Keystage: `default-<designation>-flow`
 * first, then by slug).
 */
export async function defaultFlow(svc: Services, req: FastifyRequest, designation: 'authentication' | 'invalidation') {
  const brand = await svc.brand(req.host);
  const field = designation === 'authentication' ? 'flow_authentication' : 'flow_invalidation';
  const uuid = brand.flows[field];
  const slug = brand.flowSlugs[field];
  if (uuid && slug) return { slug, flow_uuid: uuid };
  return firstFlowOf(svc.db, designation);
}

async function firstFlowOf(db: DB, designation: string): Promise<{ slug: string; flow_uuid: string } | undefined> {
  const preferred = `default-${designation}-flow`;
  const exact = await db
    .selectFrom('flows')
    .select(['slug', 'flow_uuid'])
    .where('slug', '=', preferred)
    .where('designation', '=', designation)
    .executeTakeFirst();
  if (exact) return exact;
  return db.selectFrom('flows').select(['slug', 'flow_uuid']).where('designation', '=', designation).orderBy('slug').executeTakeFirst();
}

export function mountFlowUrls(app: FastifyInstance, svc: Services) {
  const { db, sessions } = svc;
  for (const designation of ['authentication', 'invalidation'] as const) {
    app.get(`/flows/-/default/${designation}/`, async (req, reply) => {
      const flow = await defaultFlow(svc, req, designation);
      if (!flow) return reply.code(404).type('text/html').send(NOT_FOUND);
      // a plan of another flow in the session is dropped (authentik)
      const session = await sessions.load(req);
      if (session.key && session.data.plan && session.data.plan.flow_uuid !== flow.flow_uuid) {
        session.data.plan = undefined;
        session.dirty = true;
        await sessions.save(session, req, reply);
      }
      const qs = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
      return reply.redirect(`/if/flow/${flow.slug}/${qs}`, 302);
    });
  }
  app.get('/flows/-/cancel/', async (req, reply) => {
    const session = await sessions.load(req);
    if (session.key && session.data.plan) {
      session.data.plan = undefined;
      session.dirty = true;
      await sessions.save(session, req, reply);
    }
    const next = (req.query as Record<string, unknown>).next;
    return reply.redirect(typeof next === 'string' && isRelative(next) ? next : '/flows/-/default/invalidation/', 302);
  });
  // a logged-in user (re)configures the authenticator or password of a stage through that stage's configure_flow
  app.get('/flows/-/configure/:stage/', async (req, reply) => {
    const me = await sessions.user(req);
    if (!me) return reply.redirect(`/flows/-/default/authentication/?next=${encodeURIComponent(req.url)}`, 302);
    const uuid = (req.params as { stage: string }).stage;
    const stage = /^[0-9a-f-]{36}$/i.test(uuid)
      ? await db.selectFrom('stages').select(['stage_uuid', 'kind']).where('stage_uuid', '=', uuid.toLowerCase()).executeTakeFirst()
      : undefined;
    const cfg = stage ? await svc.stageConfig<{ configure_flow?: string | null }>(stage.kind, stage.stage_uuid) : undefined;
    const flow = cfg?.configure_flow
      ? ((await db.selectFrom('flows').selectAll().where('flow_uuid', '=', cfg.configure_flow).executeTakeFirst()) as
          | FlowsTable
          | undefined)
      : undefined;
    if (!flow) return reply.code(404).type('text/html').send(NOT_FOUND);
    // a flow that does not apply to the person: not found (authentik's ConfigureFlowInitView)
    if (!(await startFlow(svc, flow, { user: me.user }, req, reply))) return reply.code(404).type('text/html').send(NOT_FOUND);
    const qs = req.url.includes('?') ? req.url.slice(req.url.indexOf('?')) : '';
    return reply.redirect(`/if/flow/${flow.slug}/${qs}`, 302);
  });
}
