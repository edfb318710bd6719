/**
 * The Shared Signals Framework transmitter at authentik's URLs, per application whose backchannel provider is an SSF
 * provider: `/.well-known/ssf-configuration/<slug>` (the transmitter's configuration), `/application/ssf/<slug>/ssf-jwks/`
 * (its signing key), and the stream management API of SSF 1.0 — `stream/` (create, read, update, replace, delete),
 * `stream/verify/` (a verification event) and `stream/status/` (enabled, paused, disabled).
 */
import { randomUUID } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { signingKeyOf } from '../../crypto/keys.js';
import { secretsOf } from '../../instance/secrets.js';
import { baseUrlOf } from '../../rest/http.js';
import { Forbidden, NotFound, ValidationError } from '../../rest/errors.js';
import { nowIso } from '../../rest/serialize.js';
import type { Transaction } from 'kysely';
import type { Database } from '../../db/types.js';
import { mayAddStream, streamCaller } from './auth.js';
import { parseList, type SsfProvider, ssfProviderByAppSlug, type StreamRow } from './config.js';
import { AUTHORIZATION_HEADER, tidyStreams } from './deliver.js';
import { queueSsfEvent, requeueHeld } from './events.js';
import { type StreamInput, parseStream } from './stream-body.js';
import { EVENTS_SUPPORTED, RISC_PUSH, RFC_PUSH, STREAM_STATUSES, VERIFICATION } from './schema.js';
import { holding } from '../../db/locks.js';

export const configurationUrl = (base: string, slug: string) => `${base}/.well-known/ssf-configuration/${slug}`;
const appUrl = (base: string, slug: string, rest: string) => `${base}/application/ssf/${slug}/${rest}`;

async function providerOf(
  svc: Services,
  req: FastifyRequest,
): Promise<SsfProvider & { application: NonNullable<SsfProvider['application']> }> {
  const p = await ssfProviderByAppSlug(svc.db, (req.params as { slug: string }).slug);
  if (!p?.application) throw NotFound.plain();
  return p as SsfProvider & { application: NonNullable<SsfProvider['application']> };
}

/** authentik's StreamResponseSerializer */
function streamResponse(s: StreamRow) {
  const requested = parseList(s.events_requested);
  return {
    stream_id: s.uuid,
    iss: s.iss,
    aud: parseList(s.aud),
    delivery: { method: s.delivery_method, endpoint_url: s.endpoint_url },
    format: s.format,
    events_requested: requested,
    events_supported: EVENTS_SUPPORTED,
    events_delivered: requested,
  };
}

/** the stream a request names (`stream_id` in the query or body), else the provider's first; deleted ones are gone */
async function streamOf(svc: Services, req: FastifyRequest, provider: SsfProvider): Promise<StreamRow> {
  const named = [(req.query as Record<string, unknown>).stream_id, (req.body as Record<string, unknown> | undefined)?.stream_id].filter(
    (v): v is string => typeof v === 'string',
  );
  let q = svc.db.selectFrom('ssf_streams').selectAll().where('provider_id', '=', provider.id).where('status', '<>', 'disabled_deleted');
  for (const id of named) q = q.where('uuid', '=', id);
  const s = await q.orderBy('created').orderBy('uuid').executeTakeFirst();
  if (!s) throw NotFound.plain();
  return s;
}

/**
 * The stream, not deleted, held (PostgreSQL: its row locked) until the caller's transaction ends: a deletion sent at
 * the same time goes before (then 404) or after, never half-way through a change of the stream
 */
async function holdLiveStream(tx: Transaction<Database>, uuid: string): Promise<void> {
  const q = tx.selectFrom('ssf_streams').select('uuid').where('uuid', '=', uuid).where('status', '<>', 'disabled_deleted');
  if (!(await holding(tx, q, 'update').executeTakeFirst())) throw NotFound.plain();
}

/** the verification event always goes to a stream (authentik appends it to what was requested) */
const withVerification = (events: string[]) => [...new Set([...events, VERIFICATION])];

async function createStream(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await providerOf(svc, req);
  const caller = await streamCaller(svc.db, req, provider);
  const input = parseStream(req.body, false);
  if (!(await mayAddStream(svc.db, caller, provider)))
    throw new Forbidden('User does not have permission to create stream for this provider.');
  const uuid = randomUUID();
  const row: StreamRow = {
    uuid,
    provider_id: provider.id,
    status: 'enabled',
    delivery_method: input.delivery!.method,
    endpoint_url: input.delivery!.endpoint_url ?? null,
    authorization_header: input.delivery!.authorization_header
      ? secretsOf(svc.db).seal(AUTHORIZATION_HEADER, input.delivery!.authorization_header)
      : null,
    events_requested: JSON.stringify(withVerification(input.events_requested!)),
    format: input.format ?? 'iss_sub',
    aud: JSON.stringify(input.aud?.length ? input.aud : [`goauthentik.io/providers/ssf/${uuid}`]),
    iss: configurationUrl(baseUrlOf(req, svc.config), provider.application.slug),
    created: nowIso(),
  };
  // the stream and its first verification event together: a stream is never left without it
  await svc.db.transaction().execute(async (tx) => {
    await tx.insertInto('ssf_streams').values(row).execute();
    await queueSsfEvent(
      svc,
      { type: VERIFICATION, data: { state: null }, subId: { format: 'opaque', id: uuid }, streams: [uuid], txn: req.id },
      tx,
    );
  });
  svc.tasks?.kick();
  return reply.code(201).send(streamResponse(row));
}

async function updateStream(svc: Services, req: FastifyRequest, partial: boolean) {
  const provider = await providerOf(svc, req);
  await streamCaller(svc.db, req, provider);
  const stream = await streamOf(svc, req, provider);
  const input: StreamInput = parseStream(req.body, partial);
  const set: Partial<StreamRow> = {};
  if (input.delivery) {
    set.delivery_method = input.delivery.method ?? stream.delivery_method;
    set.endpoint_url = input.delivery.endpoint_url ?? (partial ? stream.endpoint_url : null);
    if (input.delivery.authorization_header !== undefined)
      set.authorization_header = secretsOf(svc.db).seal(AUTHORIZATION_HEADER, input.delivery.authorization_header);
    else if (!partial) set.authorization_header = null;
  }
  if (input.events_requested) set.events_requested = JSON.stringify(withVerification(input.events_requested));
  if (input.format !== undefined || !partial) set.format = input.format ?? 'iss_sub';
  if (input.aud !== undefined || !partial)
    set.aud = JSON.stringify(input.aud?.length ? input.aud : [`goauthentik.io/providers/ssf/${stream.uuid}`]);
  if (Object.keys(set).length)
    await svc.db.transaction().execute(async (tx) => {
      await holdLiveStream(tx, stream.uuid);
      await tx.updateTable('ssf_streams').set(set).where('uuid', '=', stream.uuid).execute();
    });
  return streamResponse({ ...stream, ...set });
}

async function deleteStream(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await providerOf(svc, req);
  await streamCaller(svc.db, req, provider);
  const stream = await streamOf(svc, req, provider);
  // (marked deleted: it gets no more events, and goes once what is pending for it was sent — deliver.ts)
  await svc.db.transaction().execute(async (tx) => {
    await tx.updateTable('ssf_streams').set({ status: 'disabled_deleted' }).where('uuid', '=', stream.uuid).execute();
    await tx.deleteFrom('ssf_stream_events').where('stream_uuid', '=', stream.uuid).where('status', '=', 'pending_failed').execute();
    await tidyStreams(tx);
  });
  return reply.code(204).send();
}

async function verifyStream(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await providerOf(svc, req);
  await streamCaller(svc.db, req, provider);
  const stream = await streamOf(svc, req, provider);
  const state = (req.body as Record<string, unknown> | undefined)?.state;
  await svc.db.transaction().execute(async (tx) => {
    await holdLiveStream(tx, stream.uuid);
    await queueSsfEvent(
      svc,
      {
        type: VERIFICATION,
        data: { state: typeof state === 'string' ? state : null },
        subId: { format: 'opaque', id: stream.uuid },
        streams: [stream.uuid],
        txn: req.id,
      },
      tx,
    );
  });
  svc.tasks?.kick();
  return reply.code(204).send();
}

async function streamStatus(svc: Services, req: FastifyRequest) {
  const provider = await providerOf(svc, req);
  await streamCaller(svc.db, req, provider);
  const stream = await streamOf(svc, req, provider);
  if (req.method === 'POST') {
    const status = (req.body as Record<string, unknown> | undefined)?.status;
    if (status === undefined) throw ValidationError.field('status', 'This field is required.');
    if (typeof status !== 'string' || !(STREAM_STATUSES as readonly string[]).includes(status))
      throw ValidationError.field('status', `"${String(status)}" is not a valid choice.`);
    // a disabled stream holds nothing (SSF 1.0 §8.1.2); an enabled one gets what it held while paused — each with the
    // status, in its transaction
    const requeued = await svc.db.transaction().execute(async (tx) => {
      await holdLiveStream(tx, stream.uuid);
      await tx.updateTable('ssf_streams').set({ status }).where('uuid', '=', stream.uuid).execute();
      if (status === 'disabled' || status === 'disabled_deleted')
        await tx
          .deleteFrom('ssf_stream_events')
          .where('stream_uuid', '=', stream.uuid)
          .where('status', 'in', ['pending_new', 'pending_failed'])
          .execute();
      return status === 'enabled' ? requeueHeld(tx, stream.uuid) : 0;
    });
    if (requeued) svc.tasks?.kick();
    return { stream_id: stream.uuid, status };
  }
  return { stream_id: stream.uuid, status: stream.status };
}

export function mountSsfProtocol(app: FastifyInstance, svc: Services) {
  app.register(async (scope) => {
    const config = { noConfigWrites: true };
    scope.get('/.well-known/ssf-configuration/:slug', { config }, async (req) => {
      const p = await providerOf(svc, req);
      const base = baseUrlOf(req, svc.config);
      const slug = p.application.slug;
      return {
        spec_version: '1_0-ID2',
        issuer: configurationUrl(base, slug),
        jwks_uri: appUrl(base, slug, 'ssf-jwks/'),
        configuration_endpoint: appUrl(base, slug, 'stream/'),
        status_endpoint: appUrl(base, slug, 'stream/status/'),
        verification_endpoint: appUrl(base, slug, 'stream/verify/'),
        delivery_methods_supported: [RISC_PUSH, RFC_PUSH],
        authorization_schemes: [{ spec_urn: 'urn:ietf:rfc:6749' }],
      };
    });
    scope.get('/application/ssf/:slug/ssf-jwks/', { config }, async (req, reply) => {
      const p = await providerOf(svc, req);
      const key = p.signing_key ? await signingKeyOf(svc, p.signing_key).catch(() => undefined) : undefined;
      reply.header('access-control-allow-origin', '*');
      return key ? { keys: [key.publicJwk] } : {};
    });
    scope.route({ method: 'POST', url: '/application/ssf/:slug/stream/', config, handler: (req, reply) => createStream(svc, req, reply) });
    scope.route({
      method: 'GET',
      url: '/application/ssf/:slug/stream/',
      config,
      handler: async (req) => {
        const p = await providerOf(svc, req);
        await streamCaller(svc.db, req, p);
        return streamResponse(await streamOf(svc, req, p));
      },
    });
    scope.route({ method: 'PATCH', url: '/application/ssf/:slug/stream/', config, handler: (req) => updateStream(svc, req, true) });
    scope.route({ method: 'PUT', url: '/application/ssf/:slug/stream/', config, handler: (req) => updateStream(svc, req, false) });
    scope.route({
      method: 'DELETE',
      url: '/application/ssf/:slug/stream/',
      config,
      handler: (req, reply) => deleteStream(svc, req, reply),
    });
    scope.route({
      method: 'POST',
      url: '/application/ssf/:slug/stream/verify/',
      config,
      handler: (req, reply) => verifyStream(svc, req, reply),
    });
    scope.route({
      method: ['GET', 'POST'],
      url: '/application/ssf/:slug/stream/status/',
      config,
      handler: (req) => streamStatus(svc, req),
    });
  });
}
