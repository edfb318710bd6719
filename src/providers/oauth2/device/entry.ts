/**
 * GET /device (authentik's DeviceEntryView): where a person types the code a device shows. Without a brand
 * `flow_device_code` it answers 404, as authentik. With `?code=` naming a pending code, the code's authorization
 * flow starts at once; otherwise the brand's device-code flow runs with the code entry (an in-memory stage) at its
 * end. When that flow does not apply because nobody is logged in, the person logs in first and comes back here.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable } from '../../../db/types.js';
import { planFlow } from '../../../flows/engine/planner.js';
import { isSuperuser } from '../../../rest/auth.js';
import type { Services } from '../../../services.js';
import { queryOf } from '../endpoints/http.js';
import { DEVICE_CODE, inMemoryBinding } from '../stages/in-memory.js';
import { planDeviceAuthorization } from './plan.js';

const flowPage = (slug: string, query = '') => `/if/flow/${encodeURIComponent(slug)}/${query}`;

export async function deviceEntry(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const brand = await svc.brand(req.host);
  const flowUuid = brand.flows.flow_device_code;
  const flow = flowUuid
    ? ((await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', flowUuid).executeTakeFirst()) as FlowsTable | undefined)
    : undefined;
  if (!flow) return reply.code(404).send('');
  const me = await svc.sessions.user(req);
  const code = queryOf(req).code;
  const session = await svc.sessions.load(req);
  if (code !== undefined && me) {
    const next = await planDeviceAuthorization(svc, code, me.user, req);
    if (next) {
      session.data.plan = next.plan;
      session.data.query = {};
      session.dirty = true;
      await svc.sessions.save(session, req, reply);
      return reply.redirect(flowPage(next.slug), 302);
    }
  }
  const requester = { user: me?.user, superuser: me ? await isSuperuser(svc.db, me.user.id) : false };
  const r = await planFlow(svc, flow, requester, {}, { req });
  if (r.type === 'not_applicable') {
    if (me) return reply.code(404).send('');
    const back = encodeURIComponent(req.url);
    const login = brand.flowSlugs.flow_authentication;
    return reply.redirect(
      login ? `/if/flow/${encodeURIComponent(login)}/?next=${back}` : `/flows/-/default/authentication/?next=${back}`,
      302,
    );
  }
  const plan = r.type === 'plan' ? r.plan : { flow_uuid: flow.flow_uuid, bindings: [], context: {} };
  plan.bindings.push(inMemoryBinding(DEVICE_CODE));
  session.data.plan = plan;
  session.data.query = {};
  session.dirty = true;
  await svc.sessions.save(session, req, reply);
  const q = code !== undefined ? `?${new URLSearchParams({ code })}` : '';
  return reply.redirect(flowPage(flow.slug, q), 302);
}
