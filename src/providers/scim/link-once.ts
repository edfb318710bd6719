/**
 * A just-created or just-found remote object linked to its local one, once: another sync of the same provider (a
 * node's pass, an administrator's sync/object) may have linked the local object first. Then that link stands, and a
 * remote object this sync created beside it is deleted again. A remote id linked to another local object already (a
 * service provider that answered a create with an existing object) is logged and left, never deleted from here.
 */
import type { Json } from './client.js';
import type { SyncCtx } from './sync-ctx.js';

export interface LinkTarget<C extends { id: string; scim_id: string }> {
  /** 'user' or 'group', for the messages */
  noun: string;
  /** the local object's name, for the messages */
  name: string;
  /** the remote collection: '/Users' or '/Groups' */
  path: string;
  /** inserts the link unless the local object or the remote id is linked already; the row it tried to insert */
  insert(scimId: string, attributes: Json): Promise<C>;
  /** the local object's link as stored now */
  stored(): Promise<C | undefined>;
}

/** the new link, or undefined when this sync lost to another link */
export async function linkOnce<C extends { id: string; scim_id: string }>(
  ctx: SyncCtx,
  target: LinkTarget<C>,
  scimId: string,
  attributes: Json,
  created: boolean,
): Promise<C | undefined> {
  const mine = await target.insert(scimId, attributes);
  const stored = await target.stored();
  if (stored?.id === mine.id) return mine;
  const { noun, name } = target;
  if (!stored) {
    ctx.log('warning', `the service provider answered with a ${noun} linked to another`, { [noun]: name, scim_id: scimId });
    return undefined;
  }
  if (created && stored.scim_id !== scimId) await ctx.client.request('DELETE', `${target.path}/${encodeURIComponent(scimId)}`);
  ctx.log('info', `${noun} linked by another sync meanwhile`, { [noun]: name, scim_id: stored.scim_id });
  return undefined;
}
