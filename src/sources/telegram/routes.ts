/**
 * A Telegram source's browser endpoints: `/source/telegram/<slug>/` (authentik's TelegramStartView) plans the
 * source's pre-authentication flow with the Telegram login stage at its end; `done/` takes the identity that stage
 * checked (once, from the session) through the source's property mappings to the flow manager.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { startFlow } from '../../flows/engine/start.js';
import { isRelative } from '../../flows/engine/challenge.js';
import { inMemoryBinding } from '../../flows/engine/plan.js';
import type { JsonObject } from '../../expressions/index.js';
import { sendSourcePage, sourceFlow, type Vouched } from '../flow-manager.js';
import { mapGroups, mapProperties, sourceMappings } from '../mappings.js';
import { TELEGRAM_LOGIN, type TelegramVouched } from './stages/login/stage.js';
import { telegramBaseProperties, telegramSourceBySlug } from './source.js';

const TTL_MS = 10 * 60_000;

const relative = (v: unknown) => (typeof v === 'string' && v !== '' && isRelative(v) ? v : undefined);

async function enabled(svc: Services, req: FastifyRequest) {
  const source = await telegramSourceBySlug(svc.db, (req.params as { slug: string }).slug);
  return source && Number(source.enabled) ? source : undefined;
}

const notFound = (reply: FastifyReply) => sendSourcePage(reply, 404, 'Not Found', 'Unable to find the Telegram source.');

async function start(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const source = await enabled(svc, req);
  if (!source) return notFound(reply);
  const flow = source.pre_authentication_flow
    ? ((await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', source.pre_authentication_flow).executeTakeFirst()) as
        | FlowsTable
        | undefined)
    : undefined;
  if (!flow) return notFound(reply);
  const session = await svc.sessions.load(req);
  const me =
    session.userId !== null ? await svc.db.selectFrom('users').selectAll().where('id', '=', session.userId).executeTakeFirst() : undefined;
  const next = relative((req.query as Record<string, unknown>).next) ?? relative(session.data.query?.next);
  const started = await startFlow(
    svc,
    flow,
    {
      ...(me ? { user: me } : {}),
      context: { source: { pk: source.source_uuid, slug: source.slug, name: source.name } },
      // biome-ignore lint/suspicious/noThenProperty: startFlow's continuation (flows/engine/start.ts), not a thenable
      then: next ?? '/if/user/',
      amend: (plan) => {
        plan.bindings.push(inMemoryBinding(TELEGRAM_LOGIN));
      },
      session,
    },
    req,
    reply,
  );
  if (!started) return notFound(reply);
  return reply.redirect(`/if/flow/${encodeURIComponent(flow.slug)}/`, 302);
}

async function done(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const source = await enabled(svc, req);
  if (!source) return notFound(reply);
  const session = await svc.sessions.load(req);
  const vouched = session.data.sources?.[source.slug] as Partial<TelegramVouched> | undefined;
  if (vouched) {
    delete session.data.sources![source.slug];
    session.dirty = true;
  }
  const fail = async (message: string) => {
    await svc.sessions.save(session, req, reply);
    return sendSourcePage(reply, 400, 'Bad Request', message);
  };
  if (!vouched?.telegram || Date.now() - (vouched.created ?? 0) > TTL_MS) return fail('No Telegram login to continue.');
  const info = vouched.telegram as { id: number; first_name?: string; last_name?: string; username?: string };
  const base = Object.fromEntries(Object.entries(telegramBaseProperties(info)).filter(([, v]) => v !== null));
  const mappings = await sourceMappings(svc, source.source_uuid, 'user');
  const mapped = mappings.length
    ? await mapProperties(svc, req, source, mappings, base, { info: info as unknown as JsonObject }, 'telegram')
    : { ok: true as const, properties: base };
  if (!mapped.ok) return fail(`Failed to evaluate property mapping: '${mapped.mapping}'`);
  const { groups: groupClaim, ...properties } = mapped.properties;
  const grouped = await mapGroups(svc, req, source, groupClaim, { info: info as unknown as JsonObject }, 'telegram');
  if (!grouped.ok) return fail(`Failed to evaluate property mapping: '${grouped.mapping}'`);
  const who: Vouched = {
    identifier: String(info.id),
    properties,
    groups: grouped.groups,
    accessToken: null,
    expires: new Date().toISOString(),
  };
  const answer = await sourceFlow(svc, req, reply, session, source, who, vouched.next);
  if (answer.type === 'flow') return reply.redirect(answer.to, 302);
  await svc.sessions.save(session, req, reply);
  if (answer.type === 'linked') return reply.redirect(vouched.next ?? '/if/user/', 302);
  if (answer.type === 'bad_request') return sendSourcePage(reply, 400, 'Bad Request', answer.message);
  return sendSourcePage(reply, 403, 'Permission denied', answer.message);
}

export function mountTelegramSourceRoutes(app: FastifyInstance, svc: Services) {
  const config = { noConfigWrites: true };
  app.get('/source/telegram/:slug/', { config }, (req, reply) => start(svc, req, reply));
  app.get('/source/telegram/:slug/done/', { config }, (req, reply) => done(svc, req, reply));
}
