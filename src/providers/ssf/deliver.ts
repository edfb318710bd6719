/**
 * The actor that pushes one security event token to its stream's receiver (authentik's send_ssf_event): signed with
 * the provider's key (RS256 or ES256…, `typ: secevent+jwt`), POSTed as `application/secevent+jwt` with the stream's
 * Authorization header (RFC 8935). A 2xx marks it `sent`; anything else leaves it `pending_failed` with the receiver's
 * answer in the task's log, its expiry moved on, for a retry. Each event is claimed by one UPDATE, so two tasks for it
 * (a stream re-enabled while one was queued) send it once. A deleted stream (`disabled_deleted`) goes once nothing is
 * pending for it; sent events go once they expire (the provider's `event_retention`).
 */
import { SignJWT } from 'jose';
import { Agent, fetch } from 'undici';
import { sql } from 'kysely';
import type { Actor, ActorContext } from '../../tasks/actor.js';
import { signingKeyOf } from '../../crypto/keys.js';
import { secretsOf } from '../../instance/secrets.js';
import { nowIso } from '../../rest/serialize.js';
import type { DB } from '../../db/index.js';
import { ssfProviderById } from './config.js';
import { retentionMs, SEND_SSF_EVENT } from './events.js';
import { PUSH_METHODS } from './schema.js';

export const AUTHORIZATION_HEADER = 'ssf_streams.authorization_header';
const TIMEOUT_MS = 10_000;
/** a claim older than this is a node that stopped while sending: the event may be claimed again */
const CLAIM_STALE_MS = 120_000;
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

async function claim(db: DB, id: string): Promise<boolean> {
  const stale = new Date(Date.now() - CLAIM_STALE_MS).toISOString();
  const r = await db
    .updateTable('ssf_stream_events')
    .set({ status: 'sending', last_updated: nowIso() })
    .where('uuid', '=', id)
    .where((eb) =>
      eb.or([
        eb('status', 'in', ['pending_new', 'pending_failed']),
        eb.and([eb('status', '=', 'sending'), eb('last_updated', '<', stale)]),
      ]),
    )
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

async function send(ctx: ActorContext, id: string): Promise<void> {
  const { svc } = ctx;
  const db = svc.db;
  const row = await db
    .selectFrom('ssf_stream_events as e')
    .innerJoin('ssf_streams as s', 's.uuid', 'e.stream_uuid')
    .select([
      'e.uuid',
      'e.status',
      'e.payload',
      's.uuid as stream',
      's.provider_id',
      's.status as stream_status',
      's.delivery_method',
      's.endpoint_url',
      's.authorization_header',
    ])
    .where('e.uuid', '=', id)
    .executeTakeFirst();
  if (!row || row.status === 'sent') return;
  if (row.stream_status === 'paused' || row.stream_status === 'disabled') {
    ctx.log('info', `Stream ${row.stream_status}: the event is held`);
    return;
  }
  if (!PUSH_METHODS.includes(row.delivery_method) || !row.endpoint_url) return;
  if (!(await claim(db, id))) return;
  const provider = await ssfProviderById(db, row.provider_id);
  const failed = async (event: string, attributes?: Record<string, unknown>) => {
    ctx.log('warning', event, attributes);
    await db
      .updateTable('ssf_stream_events')
      .set({
        status: 'pending_failed',
        attempts: sql<number>`attempts + 1`,
        last_updated: nowIso(),
        expires: new Date(Date.now() + retentionMs(provider?.event_retention ?? '')).toISOString(),
      })
      .where('uuid', '=', id)
      .execute();
  };
  const key = provider?.signing_key ? await signingKeyOf(svc, provider.signing_key).catch(() => undefined) : undefined;
  if (!key) return failed('The provider has no signing key: the event was not sent');
  const jwt = await new SignJWT(JSON.parse(row.payload) as Record<string, unknown>)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'secevent+jwt' })
    .sign(key.privateKey);
  const headers: Record<string, string> = { 'content-type': 'application/secevent+jwt', accept: 'application/json' };
  if (row.authorization_header) headers.authorization = secretsOf(db).open(AUTHORIZATION_HEADER, row.authorization_header);
  let res: Awaited<ReturnType<typeof fetch>>;
  try {
    res = await fetch(row.endpoint_url, {
      method: 'POST',
      headers,
      body: jwt,
      redirect: 'manual',
      signal: AbortSignal.timeout(TIMEOUT_MS),
      ...(provider?.push_verify_certificates === false ? { dispatcher: insecure } : {}),
    });
  } catch (e) {
    return failed('Failed to send request', { error: (e as Error).message });
  }
  const content = await res.text().catch(() => '');
  if (res.status < 200 || res.status > 299)
    return failed('Failed to send request', { response: { status: res.status, content: content.slice(0, 2000) } });
  await db.updateTable('ssf_stream_events').set({ status: 'sent', last_updated: nowIso() }).where('uuid', '=', id).execute();
}

/**
 * sent events past their retention go; a deleted stream with nothing pending goes. After each delivery, a stream's
 * deletion, and hourly (`clean_expired_models`). How many of each went.
 */
export async function tidyStreams(db: DB): Promise<Record<string, number>> {
  const events = await db.deleteFrom('ssf_stream_events').where('status', '=', 'sent').where('expires', '<', nowIso()).executeTakeFirst();
  const streams = await db
    .deleteFrom('ssf_streams')
    .where('status', '=', 'disabled_deleted')
    .where((eb) =>
      eb.not(
        eb.exists(
          eb
            .selectFrom('ssf_stream_events as e')
            .select(sql`1`.as('one'))
            .whereRef('e.stream_uuid', '=', 'ssf_streams.uuid')
            .where('e.status', 'in', ['pending_new', 'sending']),
        ),
      ),
    )
    .executeTakeFirst();
  return { ssf_stream_events: Number(events.numDeletedRows), ssf_streams: Number(streams.numDeletedRows) };
}

export const sendSsfEvent: Actor = {
  name: SEND_SSF_EVENT,
  description: 'Send an SSF event.',
  async run(ctx) {
    if (!ctx.relObjId) return;
    try {
      await send(ctx, ctx.relObjId);
    } finally {
      await tidyStreams(ctx.svc.db);
    }
  },
};
