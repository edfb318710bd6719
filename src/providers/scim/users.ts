/**
 * A user pushed to a SCIM service provider (authentik's SCIMUserClient): created with POST /Users (a 409 links the
 * existing one found by `userName` when the service provider can filter), updated only when the mapped resource differs
 * from what was last written — by PATCH (one replace; per attribute for AWS) then a GET, or by PUT —, made again when
 * it has gone (404), deleted with DELETE /Users/{id}.
 */
import { randomUUID } from 'node:crypto';
import type { UsersTable } from '../../db/types.js';
import { eqFilter, type Json, ScimExists, ScimNotFound } from './client.js';
import { userResource, StopSync } from './mapping.js';
import { linkOnce } from './link-once.js';
import type { SyncCtx } from './sync-ctx.js';
import { differs, parseJson, updateOrRemake } from './sync-ctx.js';

export interface UserConnection {
  id: string;
  user_id: number | null;
  scim_id: string;
  attributes: string;
}

/** AWS's PATCH /Users attributes (docs.aws.amazon.com/singlesignon/latest/developerguide/patchuser.html) */
const AWS_USER_FIELDS = [
  'userName',
  'active',
  'externalId',
  'displayName',
  'nickName',
  'profileUrl',
  'title',
  'userType',
  'preferredLanguage',
  'locale',
  'timezone',
  'name',
  'enterprise',
  'emails',
  'addresses',
  'phoneNumbers',
];

export function userConnection(ctx: SyncCtx, userId: number): Promise<UserConnection | undefined> {
  return ctx.svc.db
    .selectFrom('scim_provider_users')
    .select(['id', 'user_id', 'scim_id', 'attributes'])
    .where('provider_id', '=', ctx.provider.id)
    .where('user_id', '=', userId)
    .executeTakeFirst();
}

/** the link of a local user to its remote one, unless the user (or the remote id) is linked already */
async function link(ctx: SyncCtx, user: Pick<UsersTable, 'id'>, scimId: string, attributes: Json): Promise<UserConnection> {
  const c = { id: randomUUID(), user_id: user.id, scim_id: scimId, attributes: JSON.stringify(attributes) };
  await ctx.svc.db
    .insertInto('scim_provider_users')
    .values({ ...c, provider_id: ctx.provider.id })
    .onConflict((oc) => oc.doNothing())
    .execute();
  return c;
}

/** a just-created (`created`) or just-found remote user linked once (link-once.ts); false when another link stands */
async function linkNew(ctx: SyncCtx, user: UsersTable, scimId: string, attributes: Json, created: boolean): Promise<boolean> {
  const target = {
    noun: 'user',
    name: user.username,
    path: '/Users',
    insert: (id: string, a: Json) => link(ctx, user, id, a),
    stored: () => userConnection(ctx, user.id),
  };
  return (await linkOnce(ctx, target, scimId, attributes, created)) !== undefined;
}

/** discovery: remote users linked to the local users of the same username (authentik's discover) */
export async function discoverUsers(ctx: SyncCtx): Promise<void> {
  for await (const r of ctx.client.listAll('/Users')) {
    if (!r.id || typeof r.userName !== 'string') continue;
    const user = await ctx.svc.db.selectFrom('users').select('id').where('username', '=', r.userName).executeTakeFirst();
    if (user) await link(ctx, user, String(r.id), r);
  }
}

async function create(ctx: SyncCtx, user: UsersTable): Promise<void> {
  const payload = await userResource(ctx.svc, ctx.provider, user, null);
  let response: Json;
  try {
    response = await ctx.client.request('POST', '/Users', payload);
  } catch (e) {
    if (!(e instanceof ScimExists) || !(await ctx.client.serviceProviderConfig()).filter) throw e;
    const found = await ctx.client.request('GET', `/Users?filter=${encodeURIComponent(eqFilter('userName', String(payload.userName)))}`);
    const first = Array.isArray(found.Resources) ? (found.Resources[0] as Json | undefined) : undefined;
    if (!first?.id) throw e;
    if (await linkNew(ctx, user, String(first.id), first, false))
      ctx.log('info', 'linked existing user', { user: user.username, scim_id: first.id });
    return;
  }
  if (typeof response.id !== 'string' && typeof response.id !== 'number') throw new StopSync('SCIM Response with missing or invalid `id`');
  if (await linkNew(ctx, user, String(response.id), response, true))
    ctx.log('info', 'created user', { user: user.username, scim_id: response.id });
}

async function update(ctx: SyncCtx, user: UsersTable, c: UserConnection): Promise<void> {
  const known = parseJson(c.attributes);
  const payload: Json = {
    ...(await userResource(ctx.svc, ctx.provider, user, { id: c.id, scim_id: c.scim_id, attributes: known })),
    id: c.scim_id,
  };
  if (!differs(payload, known)) return;
  const path = `/Users/${encodeURIComponent(c.scim_id)}`;
  let response: Json;
  if ((await ctx.client.serviceProviderConfig()).patch) {
    const ops =
      ctx.provider.compatibility_mode === 'aws'
        ? AWS_USER_FIELDS.filter((a) => a in payload).map((a) => ({ op: a in known ? 'replace' : 'add', path: a, value: payload[a] }))
        : [{ op: 'replace', value: payload }];
    await ctx.client.patchChunked(path, ops);
    response = await ctx.client.request('GET', path);
  } else response = await ctx.client.request('PUT', path, payload);
  await ctx.svc.db
    .updateTable('scim_provider_users')
    .set({ attributes: JSON.stringify(Object.keys(response).length ? response : payload) })
    .where('id', '=', c.id)
    .execute();
  ctx.log('info', 'updated user', { user: user.username, scim_id: c.scim_id });
}

/** writes a user in scope: created, or updated when it changed (made again when the remote one has gone) */
export async function writeUser(ctx: SyncCtx, user: UsersTable): Promise<void> {
  const c = await userConnection(ctx, user.id);
  if (!c) return create(ctx, user);
  await updateOrRemake(
    () => update(ctx, user, c),
    () => ctx.svc.db.deleteFrom('scim_provider_users').where('id', '=', c.id).execute(),
    () => create(ctx, user),
  );
}

/** deletes the remote user of a connection (gone already: fine) and the connection */
export async function deleteUser(ctx: SyncCtx, c: Pick<UserConnection, 'id' | 'scim_id'>): Promise<void> {
  try {
    await ctx.client.request('DELETE', `/Users/${encodeURIComponent(c.scim_id)}`);
  } catch (e) {
    if (!(e instanceof ScimNotFound)) throw e;
  }
  await ctx.svc.db.deleteFrom('scim_provider_users').where('id', '=', c.id).execute();
  ctx.log('info', 'deleted user', { scim_id: c.scim_id });
}

/** the SCIM ids of these users' remote objects */
export async function scimIdsOf(ctx: SyncCtx, userIds: number[]): Promise<string[]> {
  if (!userIds.length) return [];
  const rows = await ctx.svc.db
    .selectFrom('scim_provider_users')
    .select('scim_id')
    .where('provider_id', '=', ctx.provider.id)
    .where('user_id', 'in', userIds)
    .orderBy('user_id')
    .execute();
  return rows.map((r) => r.scim_id);
}
