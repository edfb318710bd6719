/**
 * Runs every SCIM provider's work on whichever node gets to it first: each node looks every second for queued changes
 * and for full syncs that are due (asked for by a save or the provider's schedule — `scimSync` below, authentik's
 * `scim_sync` through src/tasks/, every four hours by default — or never run), and takes a provider with one
 * conditional UPDATE of its state row (`claimed_until`), so one node at a time works for a provider; a node that stops
 * mid-work leaves a claim that lapses. An unreachable service provider is left alone for a minute.
 */
import type { Services } from '../../services.js';
import type { DB } from '../../db/index.js';
import { nowIso } from '../../rest/serialize.js';
import { type Periodic, startPeriodic } from '../../instance/periodic.js';
import { scimProviderById, scimProviderIds } from './config.js';
import { fullSync, type Outcome, pushChanges } from './sync.js';
import type { Actor, LogLevel } from '../../tasks/actor.js';

const CLAIM_MS = 5 * 60_000;
const BACKOFF_MS = 60_000;

const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();

/** the provider's state row (a new one: a full sync is due, none having started) */
export async function ensureState(db: DB, providerId: number): Promise<void> {
  await db
    .insertInto('scim_sync_state')
    .values({ provider_id: providerId, sync_requested: null, full_sync_running: 0 })
    .onConflict((oc) => oc.column('provider_id').doNothing())
    .execute();
}

/**
 * a save asks for a full sync, unless one started after the save committed (it read the saved settings) or none has
 * started yet (the first one will): `savedAt` is the provider's last_updated, written in the save's transaction before
 * its commit, so a sync counts as after it only from a second later
 */
export async function requestFullSync(db: DB, providerId: number, savedAt: string): Promise<void> {
  await ensureState(db, providerId);
  const since = new Date(Date.parse(savedAt) + 1000).toISOString();
  await db
    .updateTable('scim_sync_state')
    .set({ sync_requested: nowIso() })
    .where('provider_id', '=', providerId)
    .where('last_sync_started', 'is not', null)
    .where('last_sync_started', '<', since)
    .execute();
}

/** every SCIM provider's full sync asked for now (a source's sync that did not queue its changes one by one) */
export async function requestAllFullSyncs(db: DB): Promise<void> {
  for (const id of await scimProviderIds(db)) {
    await ensureState(db, id);
    await db.updateTable('scim_sync_state').set({ sync_requested: nowIso() }).where('provider_id', '=', id).execute();
  }
}

export async function claim(db: DB, providerId: number, ms = CLAIM_MS): Promise<boolean> {
  const now = nowIso();
  const r = await db
    .updateTable('scim_sync_state')
    .set({ claimed_until: isoIn(ms) })
    .where('provider_id', '=', providerId)
    .where((eb) => eb.or([eb('claimed_until', 'is', null), eb('claimed_until', '<', now)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** a full sync asked for (a save, the schedule) or never run (a provider without its state row yet gets it here) */
async function fullSyncDue(db: DB, providerId: number): Promise<boolean> {
  const s = await db.selectFrom('scim_sync_state').selectAll().where('provider_id', '=', providerId).executeTakeFirst();
  if (!s) {
    await ensureState(db, providerId);
    return true;
  }
  return s.sync_requested !== null || s.last_sync_started === null;
}

/** the provider's due work, if this node claims it: the full sync's outcome when one ran */
async function work(svc: Services, id: number, onError: (err: unknown) => void): Promise<{ claimed: boolean; outcome?: Outcome }> {
  const db = svc.db;
  const queued = await db.selectFrom('scim_changes').select('id').where('provider_id', '=', id).limit(1).executeTakeFirst();
  const due = await fullSyncDue(db, id);
  if ((!queued && !due) || !(await claim(db, id))) return { claimed: false };
  let outcome: Outcome | undefined;
  let release: string | null = null;
  // the claim kept while the work goes on (a page of a full sync, a round of changes)
  const renew = async () => {
    await db
      .updateTable('scim_sync_state')
      .set({ claimed_until: isoIn(CLAIM_MS) })
      .where('provider_id', '=', id)
      .execute();
  };
  try {
    // the start is marked before the settings are read: a save committed before the mark finds it missing (and this
    // sync reads the save) or earlier than the save (and asks for another, requestFullSync) — never a sync that read
    // the settings before the save but counts as started after it
    if (due)
      await db
        .updateTable('scim_sync_state')
        .set({ sync_requested: null, last_sync_started: nowIso(), full_sync_running: 1 })
        .where('provider_id', '=', id)
        .execute();
    const provider = await scimProviderById(db, id);
    if (!provider) return { claimed: true };
    if (due) {
      outcome = await fullSync(svc, provider, renew);
      await db
        .updateTable('scim_sync_state')
        .set({
          full_sync_running: 0,
          last_sync_status: outcome.status,
          last_sync_messages: JSON.stringify(outcome.messages),
          // (one that failed as a whole is tried again after the pause, not in an hour)
          ...(outcome.status !== 'error' ? { last_successful_sync: nowIso() } : { sync_requested: nowIso() }),
        })
        .where('provider_id', '=', id)
        .execute();
      if (outcome.status === 'error') release = isoIn(BACKOFF_MS);
    }
    for (let round = 0; round < 20 && release === null; round++) {
      const r = await pushChanges(svc, provider);
      // (what failed goes to the server's log: a change's push has no status of its own)
      for (const m of r.messages)
        if (m.log_level === 'error' || m.log_level === 'warning')
          onError(Object.assign(new Error(`SCIM provider ${provider.name}: ${m.event}`), { attributes: m.attributes }));
      if (r.retryLater) release = isoIn(BACKOFF_MS);
      if (r.taken === 0) break;
      await renew();
    }
  } finally {
    await db.updateTable('scim_sync_state').set({ claimed_until: release, full_sync_running: 0 }).where('provider_id', '=', id).execute();
  }
  return { claimed: true, ...(outcome ? { outcome } : {}) };
}

const LEVELS = new Set(['debug', 'info', 'warning', 'error']);

/** authentik's `scim_sync`: a schedule per SCIM provider; the task runs the full sync on its node, its messages the logs */
export const scimSync: Actor = {
  name: 'authentik.providers.scim.tasks.scim_sync',
  description: 'Sync SCIM provider objects.',
  crontab: '{m} */4 * * *',
  objects: {
    app_label: 'authentik_providers_scim',
    model: 'scimprovider',
    list: async (db) =>
      (
        await db
          .selectFrom('provider_scim as s')
          .innerJoin('providers as p', 'p.id', 's.provider_id')
          .select(['p.id', 'p.name'])
          .orderBy('p.id')
          .execute()
      ).map((r) => ({ id: String(r.id), uid: r.name })),
  },
  async run({ svc, relObjId, log }) {
    const id = Number(relObjId);
    if (!Number.isInteger(id) || !(await scimProviderById(svc.db, id))) {
      log('warning', 'The SCIM provider is gone: nothing synced');
      return;
    }
    await ensureState(svc.db, id);
    await svc.db.updateTable('scim_sync_state').set({ sync_requested: nowIso() }).where('provider_id', '=', id).execute();
    const r = await work(svc, id, (err) => log('warning', (err as Error)?.message ?? String(err)));
    if (!r.claimed) {
      log('info', 'Work for this provider is under way on another node; the full sync runs after');
      return;
    }
    for (const m of r.outcome?.messages ?? [])
      log(LEVELS.has(m.log_level) ? (m.log_level as LogLevel) : 'info', m.event, m.attributes as Record<string, unknown>);
    log(r.outcome?.status === 'error' ? 'error' : 'info', 'Full sync finished', { status: r.outcome?.status ?? 'none' });
  },
};

export type ScimScheduler = Periodic;

export function startScimScheduler(svc: Services, onError: (err: unknown) => void, everyMs = 1000): ScimScheduler {
  return startPeriodic(
    async (stopped) => {
      for (const id of await scimProviderIds(svc.db)) {
        if (stopped()) return;
        await work(svc, id, onError).catch(onError);
      }
    },
    onError,
    everyMs,
  );
}
