/**
 * Each enabled LDAP source's sync runs on its schedule (authentik's `ldap_sync`, one schedule per source, every two
 * hours by default: `ldapSync` below, through src/tasks/), and at once after a save (`sync_requested`;
 * `connectivity_checked` cleared); its connectivity check on a schedule too (`ldap_connectivity_check`, hourly) and
 * at once after a save. For what a save asks, every node looks each minute; one conditional
 * UPDATE claims a sync (`sync_claimed_until`, an hour), so a source is synced by one node at a time and a node that
 * stopped mid-sync leaves a claim that lapses. The outcome (`last_sync_status`: done, warning or error, its messages)
 * is written back with the claim released.
 */
import type { Services } from '../../services.js';
import type { DB } from '../../db/index.js';
import { nowIso } from '../../rest/serialize.js';
import { type Periodic, startPeriodic } from '../../instance/periodic.js';
import { connect, connectTo, hostOf, serverInfo, serversOf } from './connect.js';
import { enabledLdapSources, type LdapSourceRow, type SyncOutcome, syncLdapSource } from './sync.js';
import type { Actor } from '../../tasks/actor.js';

const CLAIM_MS = 3600_000;

/** authentik's LDAPSource.check_connection: each server, then the pool */
export async function checkConnectivity(svc: Services, s: LdapSourceRow): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  const probe = async (open: () => ReturnType<typeof connect>) => {
    const b = await open();
    try {
      const info = await serverInfo(b.client);
      return { vendor: info.vendor, version: info.version, status: 'ok' };
    } finally {
      await b.close();
    }
  };
  const failed = (e: unknown) => ({ status: e instanceof Error ? e.message : String(e) });
  for (const uri of serversOf(s.server_uri)) out[hostOf(uri)] = await probe(() => connectTo(svc.db, s, uri)).catch(failed);
  out.__all__ = await probe(() => connect(svc.db, s)).catch(failed);
  return out;
}

/** a source's connectivity checked and kept for the API (`connectivity`) */
async function checkAndKeep(svc: Services, s: LdapSourceRow): Promise<Record<string, Record<string, string>>> {
  const c = await checkConnectivity(svc, s);
  await svc.db
    .updateTable('ldap_sources')
    .set({ connectivity: JSON.stringify(c), connectivity_checked: nowIso() })
    .where('source_uuid', '=', s.source_uuid)
    .execute();
  return c;
}

/** the LDAP sources, each a schedule's object (authentik's ScheduledModel: its uid is the slug) */
const ldapSourceObjects: NonNullable<Actor['objects']> = {
  app_label: 'authentik_sources_ldap',
  model: 'ldapsource',
  list: async (db) =>
    (
      await db
        .selectFrom('sources as s')
        .innerJoin('ldap_sources as l', 'l.source_uuid', 's.source_uuid')
        .select(['s.source_uuid', 's.slug'])
        .orderBy('s.slug')
        .execute()
    ).map((r) => ({ id: r.source_uuid, uid: r.slug })),
};

const enabledSource = async (svc: Services, relObjId: string | null) =>
  relObjId
    ? ((await enabledLdapSources(svc.db).where('s.source_uuid', '=', relObjId).executeTakeFirst()) as LdapSourceRow | undefined)
    : undefined;

/** authentik's `ldap_connectivity_check`: a schedule per LDAP source (hourly); each server's answer is a log line */
export const ldapConnectivityCheck: Actor = {
  name: 'authentik.sources.ldap.tasks.ldap_connectivity_check',
  description: 'Check connectivity for LDAP source.',
  crontab: '{m} * * * *',
  objects: ldapSourceObjects,
  async run({ svc, relObjId, log }) {
    const s = await enabledSource(svc, relObjId);
    if (!s) {
      log('warning', 'The LDAP source is disabled or gone: nothing checked');
      return;
    }
    for (const [server, answer] of Object.entries(await checkAndKeep(svc, s)))
      if (answer.status === 'ok') log('info', 'Connected', { server, vendor: answer.vendor, version: answer.version });
      else log('warning', 'Could not connect', { server, status: answer.status });
  },
};

/**
 * takes a source's sync when one is due (asked for by a save or its schedule, or never run) and no node holds it: one
 * conditional UPDATE, so of nodes asking at once one gets it
 */
export async function claimSync(db: DB, sourceUuid: string): Promise<boolean> {
  const now = nowIso();
  const r = await db
    .updateTable('ldap_sources')
    .set({ sync_claimed_until: new Date(Date.now() + CLAIM_MS).toISOString(), last_sync_started: now, sync_requested: null })
    .where('source_uuid', '=', sourceUuid)
    .where((eb) => eb.or([eb('sync_claimed_until', 'is', null), eb('sync_claimed_until', '<', now)]))
    .where((eb) => eb.or([eb('sync_requested', 'is not', null), eb('last_sync_started', 'is', null)]))
    .executeTakeFirst();
  return Number(r.numUpdatedRows) === 1;
}

/** the sync of a source this node claimed, its outcome written back with the claim released */
async function claimedSync(svc: Services, claimed: LdapSourceRow): Promise<SyncOutcome> {
  // the row read again now that the claim is taken: a save committed before the claim (whose request the claim
  // cleared) is synced here; one after it asks again. (Disabled meanwhile: the row read before, as when it was claimed.)
  const s = (await enabledSource(svc, claimed.source_uuid)) ?? claimed;
  const outcome = await syncLdapSource(svc, s);
  await svc.db
    .updateTable('ldap_sources')
    .set({
      sync_claimed_until: null,
      last_sync_status: outcome.status,
      last_sync_messages: JSON.stringify(outcome.messages),
      ...(outcome.status !== 'error' ? { last_successful_sync: nowIso() } : {}),
    })
    .where('source_uuid', '=', s.source_uuid)
    .execute();
  return outcome;
}

/** authentik's `ldap_sync`: a schedule per LDAP source; the task syncs it on the node that runs it, its messages the logs */
export const ldapSync: Actor = {
  name: 'authentik.sources.ldap.tasks.ldap_sync',
  description: 'Sync LDAP source.',
  crontab: '{m} */2 * * *',
  objects: ldapSourceObjects,
  async run({ svc, relObjId, log }) {
    const s = await enabledSource(svc, relObjId);
    if (!s) {
      log('warning', 'The LDAP source is disabled or gone: nothing synced');
      return;
    }
    await svc.db.updateTable('ldap_sources').set({ sync_requested: nowIso() }).where('source_uuid', '=', s.source_uuid).execute();
    if (!(await claimSync(svc.db, s.source_uuid))) {
      log('info', 'A sync of this source is under way on another node; it runs again after');
      return;
    }
    const outcome = await claimedSync(svc, s);
    const level = outcome.status === 'done' ? 'info' : outcome.status;
    for (const m of outcome.messages) log(level, m);
    log(level, 'Synced', { users: outcome.users, groups: outcome.groups, memberships: outcome.memberships });
  },
};

export type LdapScheduler = Periodic;

export function startLdapScheduler(svc: Services, onError: (err: unknown) => void, everyMs = 60_000): LdapScheduler {
  async function pass(stopped: () => boolean) {
    for (const s of (await enabledLdapSources(svc.db).execute()) as LdapSourceRow[]) {
      if (stopped()) return;
      // (asked by a save, or never checked; then hourly by the schedule)
      if (!s.connectivity_checked) await checkAndKeep(svc, s);
      if (stopped() || !(await claimSync(svc.db, s.source_uuid))) continue;
      await claimedSync(svc, s);
    }
  }

  return startPeriodic(pass, onError, everyMs, { now: true });
}
