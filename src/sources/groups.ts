/**
 * The groups a source names for a person, applied at the end of the source's flow (authentik's GroupUpdateStage and
 * SourceMatcher.get_group_action): each group identifier finds the group connected to it at this source, else —
 * by the source's `group_matching_mode` — links the group of that name (`name_link`), refuses when one exists
 * (`name_deny`), or creates one (`identifier`, and the link modes when none exists) with the attributes the group
 * mappings gave it; a group connected already takes the mappings' name (when free) and their attributes merged in,
 * at every login, as authentik's update_attributes. The person then belongs to
 * exactly those of the source's groups: memberships of groups connected to this source that it no longer names are
 * removed; other groups are left alone. One transaction.
 */
import type { DB } from '../db/index.js';
import { newGroupIdentity } from '../groups/store.js';
import { holdSource, SourceGone } from './flow-manager.js';

export type GroupSync = { ok: true } | { ok: false; reason: string };

/** a group the source names cannot be applied: the transaction rolls back */
class Refused extends Error {}

/** identifiers a source may name: strings and numbers (authentik drops the unhashable ones), each once */
export function groupIdentifiers(claim: unknown): string[] {
  if (!Array.isArray(claim)) return [];
  const ids = claim.filter((g) => (typeof g === 'string' && g !== '') || typeof g === 'number').map(String);
  return [...new Set(ids)];
}

/**
 * a group the source names: its identifier there, its name here (the group mappings' `name`, else the identifier) and
 * the attributes the group mappings gave it (authentik: a group's properties besides its name)
 */
export interface SourceGroup {
  id: string;
  name: string;
  attributes?: Record<string, unknown>;
}

const isPlainObject = (v: unknown): v is Record<string, unknown> => !!v && typeof v === 'object' && !Array.isArray(v);

/** a group from what the source's group mappings made of it (`properties`), `id` its identifier at the source */
export function sourceGroupOf(id: string, properties: Record<string, unknown>): SourceGroup {
  const name = typeof properties.name === 'string' && properties.name !== '' ? properties.name : id;
  return isPlainObject(properties.attributes) ? { id, name, attributes: properties.attributes } : { id, name };
}

/** authentik's MERGE_LIST_UNIQUE: dictionaries merged key by key, lists appended with what they lack, the rest replaced */
function mergeInto(into: Record<string, unknown>, value: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(value)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') continue;
    const have = into[k];
    if (Array.isArray(have) && Array.isArray(v)) {
      const seen = new Set(have.map((x) => JSON.stringify(x)));
      into[k] = [...have, ...v.filter((x) => !seen.has(JSON.stringify(x)))];
    } else if (isPlainObject(have) && isPlainObject(v)) into[k] = mergeInto({ ...have }, v);
    else into[k] = v;
  }
  return into;
}

export async function syncGroups(db: DB, source: string, mode: string, userId: number, groups: readonly SourceGroup[]): Promise<GroupSync> {
  // a second attempt when a parallel login of the same person created one of the groups first (a unique name or
  // identifier taken between this transaction's read and its insert): it then finds that group's connection
  for (let attempt = 0; ; attempt++) {
    try {
      await apply(db, source, mode, userId, groups);
      return { ok: true };
    } catch (e) {
      if (e instanceof Refused) return { ok: false, reason: e.message };
      // (deleted meanwhile: its group connections would have gone with it)
      if (e instanceof SourceGone) return { ok: true };
      if (attempt >= 1) throw e;
    }
  }
}

async function apply(db: DB, source: string, mode: string, userId: number, groups: readonly SourceGroup[]): Promise<void> {
  const now = new Date().toISOString();
  await db.transaction().execute(async (tx) => {
    await holdSource(tx, source);
    const chosen: string[] = [];
    // in one order whatever order the identity provider sent: two logins naming the same groups lock their
    // connections in the same order, never each waiting for the other's
    const ordered = [...groups].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    for (const { id, name, attributes } of ordered) {
      const connected = await tx
        .selectFrom('group_source_connections')
        .select(['id', 'group_uuid'])
        .where('source_uuid', '=', source)
        .where('identifier', '=', id)
        .executeTakeFirst();
      if (connected) {
        await tx.updateTable('group_source_connections').set({ last_updated: now }).where('id', '=', connected.id).execute();
        await refresh(tx, connected.group_uuid, name, attributes);
        chosen.push(connected.group_uuid);
        continue;
      }
      const named = await tx.selectFrom('groups').select('group_uuid').where('name', '=', name).executeTakeFirst();
      let group: string;
      if (named) {
        // a group of that name exists: linked under name_link; refused otherwise (name_deny, or identifier mode,
        // where authentik's create would collide with the unique name)
        if (mode !== 'name_link') throw new Refused(`group ${name} exists`);
        group = named.group_uuid;
        // (authentik's handle_group: a linked group takes the mappings' attributes now, as at every later login)
        await refresh(tx, group, name, attributes);
      } else {
        const made = await newGroupIdentity(tx);
        await tx
          .insertInto('groups')
          .values({ ...made, name, is_superuser: 0, attributes: JSON.stringify(attributes ?? {}) } as never)
          .execute();
        group = made.group_uuid;
      }
      await tx
        .insertInto('group_source_connections')
        .values({ group_uuid: group, source_uuid: source, identifier: id, created: now, last_updated: now } as never)
        .execute();
      chosen.push(group);
    }
    // memberships of this source's groups that it no longer names go; the named ones are added
    const stale = tx.selectFrom('group_source_connections').select('group_uuid').where('source_uuid', '=', source);
    let drop = tx.deleteFrom('user_groups').where('user_id', '=', userId).where('group_uuid', 'in', stale);
    if (chosen.length) drop = drop.where('group_uuid', 'not in', chosen);
    await drop.execute();
    if (chosen.length)
      await tx
        .insertInto('user_groups')
        .values([...new Set(chosen)].map((group_uuid) => ({ user_id: userId, group_uuid })))
        .onConflict((oc) => oc.columns(['user_id', 'group_uuid']).doNothing())
        .execute();
  });
}

/**
 * a connected group brought up to what the source says now (authentik's update_attributes at every login): the
 * mappings' attributes merged into its own, and its name, unless another group has that name already
 */
async function refresh(tx: DB, group: string, name: string, attributes: Record<string, unknown> | undefined): Promise<void> {
  const row = await tx.selectFrom('groups').select(['name', 'attributes']).where('group_uuid', '=', group).executeTakeFirst();
  if (!row) return;
  const set: { name?: string; attributes?: string } = {};
  if (attributes) {
    let current: Record<string, unknown> = {};
    try {
      const parsed = JSON.parse(row.attributes || '{}') as unknown;
      if (isPlainObject(parsed)) current = parsed;
    } catch {
      // unreadable attributes: the mappings' replace them
    }
    const merged = JSON.stringify(mergeInto(structuredClone(current), attributes));
    if (merged !== JSON.stringify(current)) set.attributes = merged;
  }
  if (name !== row.name) {
    const taken = await tx.selectFrom('groups').select('group_uuid').where('name', '=', name).executeTakeFirst();
    if (!taken) set.name = name;
  }
  if (set.name !== undefined || set.attributes !== undefined)
    await tx.updateTable('groups').set(set).where('group_uuid', '=', group).execute();
}
