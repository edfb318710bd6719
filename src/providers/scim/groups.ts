/**
 * A group pushed to a SCIM service provider (authentik's SCIMGroupClient). Without PATCH support (or in vCenter mode)
 * the group carries its members (the users already pushed); with it, members are added and removed by PATCH
 * operations after comparing with the remote group's list. Created with POST /Groups (a 409 links the group found by
 * `displayName`), updated when the mapped resource differs — PATCH replace (AWS: displayName and externalId only) or
 * PUT, falling back to PATCH when PUT is refused —, made again when it has gone, deleted with DELETE /Groups/{id}.
 */
import { randomUUID } from 'node:crypto';
import type { GroupsTable } from '../../db/types.js';
import { eqFilter, type Json, ScimError, ScimExists, ScimNotFound } from './client.js';
import { groupResource, StopSync } from './mapping.js';
import { linkOnce } from './link-once.js';
import { membersInScope } from './scope.js';
import { type SyncCtx, differs, parseJson, updateOrRemake } from './sync-ctx.js';
import { scimIdsOf } from './users.js';

export interface GroupConnection {
  id: string;
  group_uuid: string | null;
  scim_id: string;
  attributes: string;
}

export function groupConnection(ctx: SyncCtx, groupUuid: string): Promise<GroupConnection | undefined> {
  return ctx.svc.db
    .selectFrom('scim_provider_groups')
    .select(['id', 'group_uuid', 'scim_id', 'attributes'])
    .where('provider_id', '=', ctx.provider.id)
    .where('group_uuid', '=', groupUuid)
    .executeTakeFirst();
}

const pathOf = (c: { scim_id: string }) => `/Groups/${encodeURIComponent(c.scim_id)}`;
const memberOps = (op: 'add' | 'remove', ids: string[]) => ids.map((value) => ({ op, path: 'members', value: [{ value }] }));

/** does the group go with its members inside (no PATCH, or vCenter's create) */
async function carriesMembers(ctx: SyncCtx, creating: boolean): Promise<boolean> {
  if (creating && ctx.provider.compatibility_mode === 'vcenter') return true;
  return !(await ctx.client.serviceProviderConfig()).patch;
}

async function resource(ctx: SyncCtx, group: GroupsTable, c: GroupConnection | null, withMembers: boolean): Promise<Json> {
  const o = await groupResource(
    ctx.svc,
    ctx.provider,
    group,
    c ? { id: c.id, scim_id: c.scim_id, attributes: parseJson(c.attributes) } : null,
  );
  delete o.members;
  if (withMembers) {
    const ids = await scimIdsOf(ctx, await membersInScope(ctx.svc, ctx.provider, group.group_uuid));
    if (ids.length) o.members = ids.map((value) => ({ value }));
  }
  return o;
}

/** the link of a local group to its remote one, unless the group (or the remote id) is linked already */
async function link(ctx: SyncCtx, group: Pick<GroupsTable, 'group_uuid'>, scimId: string, attributes: Json): Promise<GroupConnection> {
  const c = { id: randomUUID(), group_uuid: group.group_uuid, scim_id: scimId, attributes: JSON.stringify(attributes) };
  await ctx.svc.db
    .insertInto('scim_provider_groups')
    .values({ ...c, provider_id: ctx.provider.id })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return c;
}

/** a just-created (`created`) or just-found remote group linked once (link-once.ts); undefined when another link stands */
function linkNew(ctx: SyncCtx, group: GroupsTable, scimId: string, attributes: Json, created: boolean) {
  const target = {
    noun: 'group',
    name: group.name,
    path: '/Groups',
    insert: (id: string, a: Json) => link(ctx, group, id, a),
    stored: () => groupConnection(ctx, group.group_uuid),
  };
  return linkOnce(ctx, target, scimId, attributes, created);
}

/** discovery: remote groups linked to the local groups of the same name (authentik's discover) */
export async function discoverGroups(ctx: SyncCtx): Promise<void> {
  for await (const r of ctx.client.listAll('/Groups')) {
    if (!r.id || typeof r.displayName !== 'string') continue;
    const group = await ctx.svc.db.selectFrom('groups').select('group_uuid').where('name', '=', r.displayName).executeTakeFirst();
    if (group) await link(ctx, group, String(r.id), r);
  }
}

async function create(ctx: SyncCtx, group: GroupsTable): Promise<void> {
  const inside = await carriesMembers(ctx, true);
  const payload = await resource(ctx, group, null, inside);
  let c: GroupConnection;
  try {
    const response = await ctx.client.request('POST', '/Groups', payload);
    if (typeof response.id !== 'string' && typeof response.id !== 'number')
      throw new StopSync('SCIM Response with missing or invalid `id`');
    const linked = await linkNew(ctx, group, String(response.id), response, true);
    if (!linked) return;
    c = linked;
    ctx.log('info', 'created group', { group: group.name, scim_id: response.id });
  } catch (e) {
    if (!(e instanceof ScimExists) || !(await ctx.client.serviceProviderConfig()).filter) throw e;
    const found = await ctx.client.request('GET', `/Groups?filter=${encodeURIComponent(eqFilter('displayName', group.name))}`);
    const first = Array.isArray(found.Resources) ? (found.Resources[0] as Json | undefined) : undefined;
    if (!first?.id) throw e;
    const linked = await linkNew(ctx, group, String(first.id), first, false);
    if (!linked) return;
    c = linked;
    ctx.log('info', 'linked existing group', { group: group.name, scim_id: first.id });
    if (!(await carriesMembers(ctx, false))) await compareMembers(ctx, group, c);
    return;
  }
  if (!inside) {
    const ids = await scimIdsOf(ctx, await membersInScope(ctx.svc, ctx.provider, group.group_uuid));
    await ctx.client.patchChunked(pathOf(c), memberOps('add', ids));
  }
}

/** adds and removes members so the remote group has the pushed members of the local one (authentik's patch_compare_users) */
export async function compareMembers(ctx: SyncCtx, group: GroupsTable, c: GroupConnection): Promise<void> {
  const should = await scimIdsOf(ctx, await membersInScope(ctx.svc, ctx.provider, group.group_uuid));
  let current: string[] | undefined;
  try {
    const remote = await ctx.client.request('GET', pathOf(c));
    current = Array.isArray(remote.members) ? (remote.members as Json[]).map((m) => String(m.value)) : [];
  } catch (e) {
    if (e instanceof ScimNotFound) throw e;
    // a service provider that cannot list members (AWS): add the members, remove nothing
  }
  const add = current ? should.filter((id) => !current.includes(id)) : should;
  const remove = current ? current.filter((id) => !should.includes(id)) : [];
  await ctx.client.patchChunked(pathOf(c), [...memberOps('add', add), ...memberOps('remove', remove)]);
  if (add.length || remove.length)
    ctx.log('info', 'updated group members', { group: group.name, added: add.length, removed: remove.length });
}

async function update(ctx: SyncCtx, group: GroupsTable, c: GroupConnection): Promise<void> {
  const patch = (await ctx.client.serviceProviderConfig()).patch;
  const payload: Json = { ...(await resource(ctx, group, c, !patch)), id: c.scim_id };
  const known = parseJson(c.attributes);
  if (!differs(payload, known)) {
    if (patch) await compareMembers(ctx, group, c);
    return;
  }
  const viaPatch = async () => {
    const { members: _m, ...attrs } = payload;
    const ops =
      ctx.provider.compatibility_mode === 'aws'
        ? ['displayName', 'externalId'].filter((a) => a in attrs).map((a) => ({ op: 'replace', path: a, value: attrs[a] }))
        : [{ op: 'replace', value: attrs }];
    await ctx.client.patchChunked(pathOf(c), ops);
    await compareMembers(ctx, group, c);
  };
  if (patch) await viaPatch();
  else
    try {
      await ctx.client.request('PUT', pathOf(c), payload);
    } catch (e) {
      // some service providers refuse PUT on groups
      if (e instanceof ScimNotFound || !(e instanceof ScimError)) throw e;
      await viaPatch();
    }
  await ctx.svc.db
    .updateTable('scim_provider_groups')
    .set({ attributes: JSON.stringify(payload) })
    .where('id', '=', c.id)
    .execute();
  ctx.log('info', 'updated group', { group: group.name, scim_id: c.scim_id });
}

/** writes a group in scope with its members (made again when the remote one has gone) */
export async function writeGroup(ctx: SyncCtx, group: GroupsTable): Promise<void> {
  const c = await groupConnection(ctx, group.group_uuid);
  if (!c) return create(ctx, group);
  await updateOrRemake(
    () => update(ctx, group, c),
    () => ctx.svc.db.deleteFrom('scim_provider_groups').where('id', '=', c.id).execute(),
    () => create(ctx, group),
  );
}

/** one membership added or removed: a PATCH when the service provider takes it, else the group written whole */
export async function writeMembership(ctx: SyncCtx, group: GroupsTable, userId: number, added: boolean): Promise<void> {
  const c = await groupConnection(ctx, group.group_uuid);
  if (!c) return writeGroup(ctx, group);
  if (!(await ctx.client.serviceProviderConfig()).patch) return writeGroup(ctx, group);
  const ids = await scimIdsOf(ctx, [userId]);
  if (!ids.length) return;
  await ctx.client.patchChunked(pathOf(c), memberOps(added ? 'add' : 'remove', ids));
  ctx.log('info', added ? 'added group member' : 'removed group member', { group: group.name, scim_id: ids[0] });
}

export async function deleteGroup(ctx: SyncCtx, c: Pick<GroupConnection, 'id' | 'scim_id'>): Promise<void> {
  try {
    await ctx.client.request('DELETE', pathOf(c));
  } catch (e) {
    if (!(e instanceof ScimNotFound)) throw e;
  }
  await ctx.svc.db.deleteFrom('scim_provider_groups').where('id', '=', c.id).execute();
  ctx.log('info', 'deleted group', { scim_id: c.scim_id });
}
