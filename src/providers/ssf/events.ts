/**
 * Security event tokens queued for the streams that asked for them (authentik's send_ssf_events): one row per stream
 * (`pending_new`) and a task each (`send_ssf_event`, deliver.ts), written in one transaction, so any node sends it
 * and a node stopping does not lose it. An event about a person goes only to streams of applications that person may
 * use (authentik's _check_app_access). Streams that are paused keep their events until enabled; disabled ones get none.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Services } from '../../services.js';
import type { UsersTable } from '../../db/types.js';
import { applicationAccess } from '../../applications/resource.js';
import { enqueue } from '../../tasks/queue.js';
import { parseDuration } from '../../rest/duration.js';
import type { DB } from '../../db/index.js';
import { parseList, type SsfProvider, ssfProviderById } from './config.js';
import type { SsfStreamEventsTable } from './table.js';

export const SEND_SSF_EVENT = 'authentik.enterprise.providers.ssf.tasks.send_ssf_event';
const DEFAULT_RETENTION_MS = 30 * 86_400_000;

export interface SsfEvent {
  /** the event type URI */
  type: string;
  /** the event's members (`events: {type: data}`) */
  data: Record<string, unknown>;
  /** the token's subject (`sub_id`) */
  subId: Record<string, unknown>;
  /** the person it is about: streams of applications they may not use do not get it */
  user?: UsersTable;
  /** only these streams */
  streams?: string[];
  /** the request it came from (`txn`) */
  txn?: string;
}

/** streams live for events: enabled (sent at once) or paused (held until enabled) */
const LIVE = ['enabled', 'paused'];

export const retentionMs = (text: string) => parseDuration(text) ?? DEFAULT_RETENTION_MS;

/**
 * queues `e` for every live stream that requested its type; returns how many were queued. `tx`: inside that
 * transaction, with the write it belongs to (an event about nobody only: the access check reads outside it), and the
 * caller kicks the task runner after its commit.
 */
export async function queueSsfEvent(svc: Services, e: SsfEvent, tx?: DB): Promise<number> {
  if (tx && e.user) throw new Error('an event about a person is queued in a transaction of its own');
  const db = tx ?? svc.db;
  let q = db.selectFrom('ssf_streams').select(['uuid', 'provider_id', 'events_requested', 'aud', 'iss']).where('status', 'in', LIVE);
  if (e.streams) q = e.streams.length ? q.where('uuid', 'in', e.streams) : q.where(sql<boolean>`1 = 0`);
  const streams = (await q.orderBy('uuid').execute()).filter((s) => parseList(s.events_requested).includes(e.type));
  if (!streams.length) return 0;
  const rows: SsfStreamEventsTable[] = [];
  // (each provider and its verdict on the person read once, however many streams it has)
  const providers = new Map<number, SsfProvider | undefined>();
  const allowed = new Map<number, boolean>();
  for (const s of streams) {
    if (!providers.has(s.provider_id)) providers.set(s.provider_id, await ssfProviderById(db, s.provider_id));
    const provider = providers.get(s.provider_id);
    if (!provider?.application) continue;
    if (e.user) {
      let ok = allowed.get(provider.id);
      if (ok === undefined) {
        ok = (await applicationAccess(svc, { ...provider.application, pk: provider.application.pbm_uuid }, e.user)).passing;
        allowed.set(provider.id, ok);
      }
      if (!ok) continue;
    }
    const now = new Date();
    const jti = randomUUID();
    const payload = {
      jti: jti.replace(/-/g, ''),
      aud: parseList(s.aud),
      iat: Math.floor(now.getTime() / 1000),
      iss: s.iss,
      events: { [e.type]: e.data },
      sub_id: e.subId,
      ...(e.txn ? { txn: e.txn } : {}),
    };
    rows.push({
      uuid: jti,
      stream_uuid: s.uuid,
      status: 'pending_new',
      type: e.type,
      payload: JSON.stringify(payload),
      attempts: 0,
      created: now.toISOString(),
      last_updated: now.toISOString(),
      expires: new Date(now.getTime() + retentionMs(provider.event_retention)).toISOString(),
    });
  }
  if (!rows.length) return 0;
  const write = async (w: DB) => {
    await w.insertInto('ssf_stream_events').values(rows).execute();
    await enqueueSends(
      w,
      rows.map((r) => r.uuid),
    );
  };
  if (tx) await write(tx);
  else {
    await svc.db.transaction().execute(write);
    svc.tasks?.kick();
  }
  return rows.length;
}

/** a stream's held events queued again (its status back to enabled), in the caller's transaction; how many */
export async function requeueHeld(tx: DB, stream: string): Promise<number> {
  const held = await tx
    .selectFrom('ssf_stream_events')
    .select('uuid')
    .where('stream_uuid', '=', stream)
    .where('status', 'in', ['pending_new', 'pending_failed'])
    .execute();
  await enqueueSends(
    tx,
    held.map((r) => r.uuid),
  );
  return held.length;
}

/** a send task per event (the task's object: the event) */
async function enqueueSends(tx: DB, events: string[]): Promise<void> {
  for (const id of events)
    await enqueue(tx, { actor: SEND_SSF_EVENT, uid: id, relObj: { app_label: 'authentik_providers_ssf', model: 'streamevent', id } });
}
