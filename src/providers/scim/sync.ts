/**
 * A SCIM provider's work: the full sync (authentik's scim_sync: discovery when enabled, users then groups page by page,
 * `sync_page_size` objects a page and `sync_page_timeout` for each, then what left the scope deleted remotely), the
 * queued changes (a user, group or membership written anywhere: scim_changes), and one object on request (sync/object).
 * An object that fails is a message and the sync goes on; a transient answer (429/503) or an unreachable service
 * provider ends the pass (the queue keeps what was not done when the failure came first).
 */
import type { Services } from '../../services.js';
import type { GroupsTable, UsersTable } from '../../db/types.js';
import { type Json, ScimClient, ScimDryRun, ScimError, ScimTransient } from './client.js';
import type { ScimProvider } from './config.js';
import { deleteGroup, discoverGroups, groupConnection, writeGroup, writeMembership } from './groups.js';
import { StopSync } from './mapping.js';
import { groupInScope, groupsPage, userInScope, usersPage } from './scope.js';
import { type SyncCtx, syncCtx } from './sync-ctx.js';
import { deleteUser, discoverUsers, userConnection, writeUser } from './users.js';

/** the pass cannot go on (the service provider unreachable or asking to wait) */
class PassFailed extends Error {}

const describe = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** one object's write; a failure of that object alone is a message */
async function attempt(ctx: SyncCtx, what: Record<string, unknown>, work: () => Promise<void>): Promise<boolean> {
  try {
    await work();
    return true;
  } catch (e) {
    if (e instanceof ScimDryRun) {
      ctx.log('info', 'Dropping mutating request due to dry run', { ...what, method: e.method, url: e.url, body: e.payload as Json });
      return true;
    }
    if (e instanceof ScimTransient || (e instanceof ScimError && e.status === undefined)) throw new PassFailed(describe(e));
    ctx.log(e instanceof StopSync ? 'warning' : 'error', describe(e), what);
    return false;
  }
}

export async function syncUser(ctx: SyncCtx, id: number): Promise<boolean> {
  const user = await userInScope(ctx.svc, ctx.provider, id);
  if (user) return attempt(ctx, { user: user.username }, () => writeUser(ctx, user));
  // deleted, or no longer in scope: its remote object goes
  const c = await userConnection(ctx, id);
  return c ? attempt(ctx, { user_id: id }, () => deleteUser(ctx, c)) : true;
}

export async function syncGroup(ctx: SyncCtx, uuid: string): Promise<boolean> {
  const group = await groupInScope(ctx.svc.db, ctx.provider, uuid);
  if (group) return attempt(ctx, { group: group.name }, () => writeGroup(ctx, group));
  const c = await groupConnection(ctx, uuid);
  return c ? attempt(ctx, { group_uuid: uuid }, () => deleteGroup(ctx, c)) : true;
}

/** remote objects whose local object was deleted (their key set to null by the database) */
async function sweepOrphans(ctx: SyncCtx): Promise<void> {
  const db = ctx.svc.db;
  for (const c of await db
    .selectFrom('scim_provider_users')
    .select(['id', 'scim_id'])
    .where('provider_id', '=', ctx.provider.id)
    .where('user_id', 'is', null)
    .execute())
    await attempt(ctx, { scim_id: c.scim_id }, () => deleteUser(ctx, c));
  for (const c of await db
    .selectFrom('scim_provider_groups')
    .select(['id', 'scim_id'])
    .where('provider_id', '=', ctx.provider.id)
    .where('group_uuid', 'is', null)
    .execute())
    await attempt(ctx, { scim_id: c.scim_id }, () => deleteGroup(ctx, c));
}

async function pages<T>(
  ctx: SyncCtx,
  next: (after: T | undefined) => Promise<{ items: unknown[]; last: T } | undefined>,
  each: (item: unknown) => Promise<boolean>,
  renew: () => Promise<void>,
): Promise<number> {
  let after: T | undefined;
  let failed = 0;
  for (;;) {
    const page = await next(after);
    if (!page) return failed;
    const deadline = Date.now() + ctx.provider.sync_page_timeout_ms;
    for (const item of page.items) {
      if (Date.now() > deadline) throw new PassFailed('Timed out while synchronising a page (sync_page_timeout)');
      if (!(await each(item))) failed++;
    }
    after = page.last;
    await renew();
  }
}

/** what left the scope (a filter changed, a service account excluded) is deleted remotely */
async function dropOutOfScope(ctx: SyncCtx): Promise<void> {
  const db = ctx.svc.db;
  for (const c of await db.selectFrom('scim_provider_users').select('user_id').where('provider_id', '=', ctx.provider.id).execute())
    if (c.user_id !== null && !(await userInScope(ctx.svc, ctx.provider, c.user_id))) await syncUser(ctx, c.user_id);
  for (const c of await db.selectFrom('scim_provider_groups').select('group_uuid').where('provider_id', '=', ctx.provider.id).execute())
    if (c.group_uuid !== null && !(await groupInScope(db, ctx.provider, c.group_uuid))) await syncGroup(ctx, c.group_uuid);
}

export interface Outcome {
  status: 'done' | 'warning' | 'error';
  messages: SyncCtx['messages'];
}

/** the full sync; `renew` keeps the provider's claim while pages go by */
export async function fullSync(svc: Services, provider: ScimProvider, renew: () => Promise<void>): Promise<Outcome> {
  const ctx = syncCtx(svc, provider, new ScimClient(provider, svc));
  const size = provider.sync_page_size;
  try {
    if (provider.discovery_enabled) {
      await discoverUsers(ctx);
      await discoverGroups(ctx);
    }
    let failed = await pages<number>(
      ctx,
      async (after) => {
        const page = await usersPage(svc, provider, after ?? 0, size);
        return page.last !== undefined ? { items: page.users, last: page.last } : undefined;
      },
      (u) => attempt(ctx, { user: (u as UsersTable).username }, () => writeUser(ctx, u as UsersTable)),
      renew,
    );
    failed += await pages<string>(
      ctx,
      async (after) => {
        const items = await groupsPage(svc.db, provider, after ?? '', size);
        return items.length ? { items, last: items.at(-1)!.group_uuid } : undefined;
      },
      (g) => attempt(ctx, { group: (g as GroupsTable).name }, () => writeGroup(ctx, g as GroupsTable)),
      renew,
    );
    await dropOutOfScope(ctx);
    await sweepOrphans(ctx);
    ctx.log('info', 'Finished sync', { provider: provider.name });
    return { status: failed ? 'warning' : 'done', messages: ctx.messages };
  } catch (e) {
    ctx.log('error', describe(e), { provider: provider.name });
    return { status: 'error', messages: ctx.messages };
  }
}

/** the queued changes, oldest first, at most `limit`: taken off the queue by this node alone */
async function takeChanges(svc: Services, providerId: number, limit: number) {
  return svc.db
    .deleteFrom('scim_changes')
    .where('id', 'in', (eb) => eb.selectFrom('scim_changes').select('id').where('provider_id', '=', providerId).orderBy('id').limit(limit))
    .returning(['id', 'kind', 'ref', 'member'])
    .execute();
}

/**
 * pushes what changed since the last pass; answers how many changes it took, and whether the service provider could
 * not be reached (the changes are queued again, to be tried after a pause)
 */
export async function pushChanges(
  svc: Services,
  provider: ScimProvider,
  limit = 500,
): Promise<{ taken: number; retryLater: boolean; messages: SyncCtx['messages'] }> {
  const changes = (await takeChanges(svc, provider.id, limit)).sort((a, b) => Number(a.id) - Number(b.id));
  const ctx = syncCtx(svc, provider, new ScimClient(provider, svc));
  if (!changes.length) return { taken: 0, retryLater: false, messages: [] };
  const users = new Set<number>();
  const groups = new Set<string>();
  const members: { group: string; user: number; added: boolean }[] = [];
  for (const c of changes) {
    if (c.kind === 'user') users.add(Number(c.ref));
    else if (c.kind === 'group') groups.add(c.ref);
    else if (c.member !== null) {
      // a membership of a filter group brings its user into (or out of) scope, as any may through the application's policies
      if (provider.group_filters.includes(c.ref) || provider.application) users.add(Number(c.member));
      const user = Number(c.member);
      const exists = await svc.db
        .selectFrom('user_groups')
        .select('user_id')
        .where('user_id', '=', user)
        .where('group_uuid', '=', c.ref)
        .executeTakeFirst();
      members.push({ group: c.ref, user, added: !!exists });
    }
  }
  try {
    for (const id of users) await syncUser(ctx, id);
    for (const uuid of groups) await syncGroup(ctx, uuid);
    const seen = new Set<string>();
    for (const m of members) {
      const key = `${m.group}\n${m.user}`;
      if (groups.has(m.group) || seen.has(key)) continue;
      seen.add(key);
      const group = await groupInScope(svc.db, provider, m.group);
      if (!group) continue;
      await attempt(ctx, { group: group.name, user_id: m.user }, () => writeMembership(ctx, group, m.user, m.added));
    }
    await sweepOrphans(ctx);
  } catch (e) {
    if (!(e instanceof PassFailed)) throw e;
    ctx.log('error', e.message, { provider: provider.name });
    // queued again, after what came since (a change is pushed as the object is when it is pushed)
    await svc.db
      .insertInto('scim_changes')
      .values(changes.map((c) => ({ provider_id: provider.id, kind: c.kind, ref: c.ref, member: c.member })))
      .execute();
    return { taken: changes.length, retryLater: true, messages: ctx.messages };
  }
  return { taken: changes.length, retryLater: false, messages: ctx.messages };
}

/** sync/object: one user or group now, its messages */
export async function syncObject(
  svc: Services,
  provider: ScimProvider,
  model: 'user' | 'group',
  id: string,
  overrideDryRun: boolean,
): Promise<SyncCtx['messages']> {
  const ctx = syncCtx(svc, provider, new ScimClient(provider, svc, overrideDryRun));
  try {
    if (model === 'user') await syncUser(ctx, Number(id));
    else await syncGroup(ctx, id);
  } catch (e) {
    ctx.log('error', describe(e), { provider: provider.name });
  }
  return ctx.messages;
}
