/**
 * One synchronisation of an LDAP source into Keystage (authentik's ldap_sync: the user and group synchronisers, then
 * the memberships, then — with `delete_not_found_objects` — the removal of what the directory no longer has).
 *
 * Users and groups are matched to Keystage's by the source's connection for the entry's uniqueness value (or, for
 * objects made before a connection existed, their `ldap_uniq` attribute, authentik's lookup), then created or updated
 * from the mapped properties, one transaction each. An entry whose mappings fail, lack a username (a group: a name) or
 * clash with another object is skipped and recorded as a `configuration_error` event, as authentik does; the rest go on.
 */
import { randomUUID } from 'node:crypto';
import { attributeText } from '../../db/dialect.js';
import { escapeFilter, type Client } from 'ldapts';
import type { Services } from '../../services.js';
import type { DB } from '../../db/index.js';
import type { SourcesTable } from '../table.js';
import type { LdapSourcesTable } from './table.js';
import { flatten, withConnection } from './connect.js';
import { attr, type DirEntry, searchAll, underBase, values } from './entries.js';
import { LDAP_DISTINGUISHED_NAME, LDAP_UNIQUENESS, mapEntry } from './mappings.js';
import { sourceMappings, userPathOf } from '../mappings.js';
import { insertUser } from '../../users/store.js';
import { insertGroup, updateGroup } from '../../groups/store.js';
import { nowIso } from '../../rest/serialize.js';
import { writeInhibiting } from '../../db/outgoing-sync.js';
import type { Tx } from '../../rest/resource.js';
import { lockConfigEpoch } from '../../db/config-epoch.js';

export type LdapSourceRow = SourcesTable & LdapSourcesTable & { pk: string };

/** the enabled LDAP sources, by name (a query the caller may narrow) */
export const enabledLdapSources = (db: DB) =>
  db
    .selectFrom('sources as s')
    .innerJoin('ldap_sources as l', 'l.source_uuid', 's.source_uuid')
    .selectAll('s')
    .selectAll('l')
    .select('s.source_uuid as pk')
    .where('s.kind', '=', 'ldapsource')
    .where('s.enabled', '=', 1)
    .orderBy('s.name');

export interface SyncOutcome {
  status: 'done' | 'warning' | 'error';
  messages: string[];
  users: number;
  groups: number;
  memberships: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => !!v && typeof v === 'object' && !Array.isArray(v);

/** authentik's `{k: flatten(v) for k, v in properties.items()}` */
const flattened = (p: Json): Json => Object.fromEntries(Object.entries(p).map(([k, v]) => [k, flatten(v)]));

class Run {
  readonly id = randomUUID();
  readonly messages: string[] = [];
  warned = false;
  constructor(
    readonly svc: Services,
    readonly source: LdapSourceRow,
  ) {}

  /**
   * a transaction of this run's writes; unless the source's `sync_outgoing_trigger_mode` is `immediate`, outgoing sync
   * providers do not queue them one by one (authentik's `sync_outgoing_inhibit_dispatch`)
   */
  write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    return writeInhibiting(this.svc.db, this.source.sync_outgoing_trigger_mode !== 'immediate', fn);
  }

  message(text: string, warn = false) {
    if (this.messages.length < 200) this.messages.push(text);
    if (warn) this.warned = true;
  }

  async configurationError(message: string, dn: string) {
    this.warned = true;
    this.message(message);
    await this.svc.events
      .emit('configuration_error', {
        app: 'authentik.sources.ldap',
        context: {
          message,
          source: { app: 'authentik_sources_ldap', model_name: 'ldapsource', pk: this.source.source_uuid, name: this.source.name },
          dn,
        },
      })
      .catch(() => undefined);
  }

  /** the mapped properties of an entry, or undefined when a mapping failed (recorded) */
  async properties(entry: DirEntry, uniq: string, kind: 'user' | 'group', mappings: Awaited<ReturnType<typeof sourceMappings>>) {
    const base: Json = { attributes: { [LDAP_DISTINGUISHED_NAME]: entry.dn, [LDAP_UNIQUENESS]: uniq } };
    // (authentik's SourceMapper: a user's path defaults to the source's; the DN-path mapping may replace it)
    if (kind === 'user') base.path = userPathOf(this.source);
    if (kind === 'group') base.parent = this.source.sync_parent_group;
    const r = await mapEntry(this.svc, this.source, mappings, entry, base);
    if (!r.ok) {
      await this.configurationError(`Failed to evaluate property mapping: '${r.mapping}': ${r.error}`, entry.dn);
      return undefined;
    }
    return flattened(r.properties);
  }

  /** the uniqueness values the directory answered with, written or not: never deleted as missing */
  readonly seen = { user: new Set<string>(), group: new Set<string>() };

  uniqOf(entry: DirEntry, kind: 'user' | 'group'): string | undefined {
    const v = flatten(attr(entry, this.source.object_uniqueness_field));
    if (v === undefined || v === null) {
      this.message(`Cannot find uniqueness field in attributes: '${entry.dn}'`, true);
      return undefined;
    }
    this.seen[kind].add(String(v));
    return String(v);
  }

  /** the Keystage object an entry was synced to before: by connection, else by `ldap_uniq` */
  async existingUser(uniq: string): Promise<number | undefined> {
    const db = this.svc.db;
    const c = await db
      .selectFrom('user_source_connections')
      .select('user_id')
      .where('source_uuid', '=', this.source.source_uuid)
      .where('identifier', '=', uniq)
      .executeTakeFirst();
    if (c) return c.user_id;
    const u = await db
      .selectFrom('users')
      .select('id')
      .where(attributeText(this.svc.dialect, LDAP_UNIQUENESS), '=', uniq)
      .orderBy('id')
      .executeTakeFirst();
    return u?.id;
  }

  async existingGroup(uniq: string): Promise<string | undefined> {
    const db = this.svc.db;
    const c = await db
      .selectFrom('group_source_connections')
      .select('group_uuid')
      .where('source_uuid', '=', this.source.source_uuid)
      .where('identifier', '=', uniq)
      .executeTakeFirst();
    if (c) return c.group_uuid;
    const g = await db
      .selectFrom('groups')
      .select('group_uuid')
      .where(attributeText(this.svc.dialect, LDAP_UNIQUENESS), '=', uniq)
      .executeTakeFirst();
    return g?.group_uuid;
  }

  async users(client: Client): Promise<number> {
    const s = this.source;
    const entries = await searchAll(client, underBase(s.additional_user_dn, s.base_dn), s.user_object_filter);
    const mappings = await sourceMappings(this.svc, s.source_uuid, 'user');
    let count = 0;
    for (const entry of entries) {
      const uniq = this.uniqOf(entry, 'user');
      if (uniq === undefined) continue;
      const p = await this.properties(entry, uniq, 'user', mappings);
      if (!p) continue;
      const hint = `To merge new user with existing user, set the user's Attribute '${LDAP_UNIQUENESS}' to '${uniq}'`;
      if (typeof p.username !== 'string' || !p.username) {
        await this.configurationError(`Failed to create user: Username was not set by propertymappings ${hint}`, entry.dn);
        continue;
      }
      // Active Directory's and FreeIPA's account lock (authentik's vendor synchronisers)
      const uac = flatten(attr(entry, 'userAccountControl'));
      if (uac !== undefined && uac !== null && !Number.isNaN(Number(uac))) p.is_active = (Number(uac) & 2) === 0;
      const lock = flatten(attr(entry, 'nsaccountlock'));
      if (typeof lock === 'string') p.is_active = lock.toUpperCase() !== 'TRUE';
      try {
        await this.writeUser(uniq, p);
        count++;
      } catch (e) {
        await this.configurationError(`Failed to create user: ${e instanceof Error ? e.message : String(e)} ${hint}`, entry.dn);
      }
    }
    return count;
  }

  private async writeUser(uniq: string, p: Json) {
    const existing = await this.existingUser(uniq);
    const fields: Json = {};
    for (const k of ['username', 'name', 'email', 'path', 'type'] as const) if (typeof p[k] === 'string') fields[k] = p[k];
    if (typeof p.is_active === 'boolean') fields.is_active = p.is_active ? 1 : 0;
    const attributes = isObject(p.attributes) ? p.attributes : {};
    await this.write(async (tx) => {
      const clash = await tx
        .selectFrom('users')
        .select('id')
        .where('username', '=', fields.username as string)
        .$if(existing !== undefined, (q) => q.where('id', '<>', existing!))
        .executeTakeFirst();
      if (clash) throw new Error(`a user with the username '${String(fields.username)}' already exists.`);
      let id = existing;
      if (id === undefined) {
        id = await insertUser(tx, { ...fields, is_active: fields.is_active !== 0, attributes });
      } else {
        const row = await tx.selectFrom('users').select('attributes').where('id', '=', id).executeTakeFirstOrThrow();
        const merged = { ...(JSON.parse(row.attributes || '{}') as Json), ...attributes };
        await tx
          .updateTable('users')
          .set({ ...fields, attributes: JSON.stringify(merged), last_updated: nowIso() } as never)
          .where('id', '=', id)
          .execute();
      }
      await this.connect(tx, 'user', id, uniq);
    });
  }

  async groups(client: Client): Promise<{ count: number; entries: DirEntry[] }> {
    const s = this.source;
    const entries = await searchAll(client, underBase(s.additional_group_dn, s.base_dn), s.group_object_filter);
    const mappings = await sourceMappings(this.svc, s.source_uuid, 'group');
    let count = 0;
    for (const entry of entries) {
      const uniq = this.uniqOf(entry, 'group');
      if (uniq === undefined) continue;
      const p = await this.properties(entry, uniq, 'group', mappings);
      if (!p) continue;
      const hint = `To merge new group with existing group, set the groups's Attribute '${LDAP_UNIQUENESS}' to '${uniq}'`;
      if (typeof p.name !== 'string' || !p.name) {
        await this.configurationError(`Failed to create group: Name was not set by propertymappings ${hint}`, entry.dn);
        continue;
      }
      try {
        await this.writeGroup(uniq, p);
        count++;
      } catch (e) {
        const msg =
          e instanceof Error ? (((e as { errors?: Record<string, string[]> }).errors?.name?.[0] ?? e.message) as string) : String(e);
        await this.configurationError(`Failed to create group: ${msg} ${hint}`, entry.dn);
      }
    }
    return { count, entries };
  }

  private async writeGroup(uniq: string, p: Json) {
    const existing = await this.existingGroup(uniq);
    const attributes = isObject(p.attributes) ? p.attributes : {};
    const parent = typeof p.parent === 'string' ? p.parent : undefined;
    await this.write(async (tx) => {
      const data: Json = { name: p.name };
      if (typeof p.is_superuser === 'boolean') data.is_superuser = p.is_superuser;
      let uuid = existing;
      if (uuid === undefined) {
        uuid = await insertGroup(tx, { ...data, attributes, ...(parent ? { parents: [parent] } : {}) });
      } else {
        const row = await tx.selectFrom('groups').select('attributes').where('group_uuid', '=', uuid).executeTakeFirstOrThrow();
        await updateGroup(tx, uuid, { ...data, attributes: { ...(JSON.parse(row.attributes || '{}') as Json), ...attributes } });
        if (parent && parent !== uuid)
          await tx
            .insertInto('group_parents')
            .values({ child_uuid: uuid, parent_uuid: parent })
            .onConflict((oc) => oc.columns(['child_uuid', 'parent_uuid']).doNothing())
            .execute();
      }
      await this.connect(tx, 'group', uuid, uniq);
    });
  }

  /** the object's connection to this source, marked as seen by this run */
  private async connect(tx: Tx, kind: 'user' | 'group', id: number | string, uniq: string) {
    const now = nowIso();
    const s = this.source.source_uuid;
    if (kind === 'user') {
      await tx
        .deleteFrom('user_source_connections')
        .where('source_uuid', '=', s)
        .where('identifier', '=', uniq)
        .where('user_id', '<>', id as number)
        .execute();
      const updated = await tx
        .updateTable('user_source_connections')
        .set({ identifier: uniq, validated_by: this.id, last_updated: now })
        .where('source_uuid', '=', s)
        .where('user_id', '=', id as number)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0)
        await tx
          .insertInto('user_source_connections')
          .values({
            user_id: id as number,
            source_uuid: s,
            identifier: uniq,
            access_token: null,
            expires: now,
            created: now,
            last_updated: now,
            validated_by: this.id,
          } as never)
          .execute();
    } else {
      await tx
        .deleteFrom('group_source_connections')
        .where('source_uuid', '=', s)
        .where('identifier', '=', uniq)
        .where('group_uuid', '<>', id as string)
        .execute();
      const updated = await tx
        .updateTable('group_source_connections')
        .set({ identifier: uniq, validated_by: this.id, last_updated: now })
        .where('source_uuid', '=', s)
        .where('group_uuid', '=', id as string)
        .executeTakeFirst();
      if (Number(updated.numUpdatedRows) === 0)
        await tx
          .insertInto('group_source_connections')
          .values({
            group_uuid: id as string,
            source_uuid: s,
            identifier: uniq,
            created: now,
            last_updated: now,
            validated_by: this.id,
          } as never)
          .execute();
    }
  }

  /** each synced group's members: the users its membership field names (or, looked up from the users, who name it) */
  async memberships(client: Client, groups: DirEntry[]): Promise<number> {
    const s = this.source;
    const db = this.svc.db;
    const connected = await db
      .selectFrom('users as u')
      .innerJoin('user_source_connections as c', 'c.user_id', 'u.id')
      .select(['u.id', 'u.attributes', 'c.identifier'])
      .where('c.source_uuid', '=', s.source_uuid)
      .execute();
    const byAttr = new Map<string, number[]>();
    const byUniq = new Map<string, number>();
    const wanted = s.user_membership_attribute.toLowerCase();
    for (const u of connected) {
      byUniq.set(u.identifier, u.id);
      const attrs = JSON.parse(u.attributes || '{}') as Json;
      const key = Object.keys(attrs).find((k) => k.toLowerCase() === wanted);
      const v = key === undefined ? undefined : flatten(attrs[key]);
      if (v === undefined || v === null) continue;
      byAttr.set(String(v), [...(byAttr.get(String(v)) ?? []), u.id]);
    }
    const groupByDn = new Map<string, string>();
    const groupUuids = new Map<DirEntry, string>();
    for (const g of groups) {
      const uniq = flatten(attr(g, s.object_uniqueness_field));
      if (uniq === undefined || uniq === null) continue;
      const c = await db
        .selectFrom('group_source_connections')
        .select('group_uuid')
        .where('source_uuid', '=', s.source_uuid)
        .where('identifier', '=', String(uniq))
        .executeTakeFirst();
      if (!c) continue;
      groupUuids.set(g, c.group_uuid);
      groupByDn.set(g.dn.toLowerCase(), c.group_uuid);
    }
    let count = 0;
    for (const [g, uuid] of groupUuids) {
      let users: number[];
      if (s.lookup_groups_from_user) {
        const filter = `(&${s.user_object_filter}(${s.group_membership_field}=${escapeFilter`${g.dn}`}))`;
        const found = await searchAll(client, underBase(s.additional_user_dn, s.base_dn), filter, [s.object_uniqueness_field]);
        users = found
          .map((u) => byUniq.get(String(flatten(attr(u, s.object_uniqueness_field)))))
          .filter((x): x is number => x !== undefined);
      } else users = values(g, s.group_membership_field).flatMap((m) => byAttr.get(m) ?? []);
      users = [...new Set(users)];
      const children = s.sync_group_hierarchy
        ? values(g, s.group_membership_field)
            .map((m) => groupByDn.get(m.toLowerCase()))
            .filter((x): x is string => x !== undefined && x !== uuid)
        : [];
      await this.write(async (tx) => {
        await tx.deleteFrom('user_groups').where('group_uuid', '=', uuid).execute();
        if (users.length)
          await tx
            .insertInto('user_groups')
            .values(users.map((user_id) => ({ user_id, group_uuid: uuid })))
            .execute();
        for (const child of children)
          await tx
            .insertInto('group_parents')
            .values({ child_uuid: child, parent_uuid: uuid })
            .onConflict((oc) => oc.columns(['child_uuid', 'parent_uuid']).doNothing())
            .execute();
      });
      count += 1 + users.length;
    }
    return count;
  }

  /**
   * users and groups this source made that this run did not find (delete_not_found_objects); an entry the directory
   * still has but that could not be written this time (a failing mapping) is not "not found" and stays
   */
  async removeMissing(kind: 'user' | 'group') {
    const db = this.svc.db;
    const s = this.source.source_uuid;
    if (kind === 'user') {
      const gone = (
        await db
          .selectFrom('user_source_connections')
          .select(['user_id', 'identifier'])
          .where('source_uuid', '=', s)
          .where((eb) => eb.or([eb('validated_by', 'is', null), eb('validated_by', '<>', this.id)]))
          .execute()
      ).filter((c) => !this.seen.user.has(c.identifier));
      // (a user's or group's deletion reaches configuration tables through their foreign keys: the admin-write lock
      // first — after the inhibiting marker, a fresh row nobody waits for)
      for (const g of gone)
        await this.write(async (tx) => {
          await lockConfigEpoch(tx);
          await tx.deleteFrom('users').where('id', '=', g.user_id).execute();
        });
      if (gone.length) this.message(`Deleted ${gone.length} users no longer in the directory`);
    } else {
      const gone = (
        await db
          .selectFrom('group_source_connections')
          .select(['group_uuid', 'identifier'])
          .where('source_uuid', '=', s)
          .where((eb) => eb.or([eb('validated_by', 'is', null), eb('validated_by', '<>', this.id)]))
          .execute()
      ).filter((c) => !this.seen.group.has(c.identifier));
      for (const g of gone)
        await this.write(async (tx) => {
          await lockConfigEpoch(tx);
          await tx.deleteFrom('groups').where('group_uuid', '=', g.group_uuid).execute();
        });
      if (gone.length) this.message(`Deleted ${gone.length} groups no longer in the directory`);
    }
  }
}

export async function syncLdapSource(svc: Services, source: LdapSourceRow): Promise<SyncOutcome> {
  const run = new Run(svc, source);
  const out: SyncOutcome = { status: 'done', messages: run.messages, users: 0, groups: 0, memberships: 0 };
  try {
    await withConnection(svc.db, source, async ({ client }) => {
      if (source.sync_users) out.users = await run.users(client);
      else run.message('User syncing is disabled for this Source');
      if (source.sync_groups) {
        const g = await run.groups(client);
        out.groups = g.count;
        out.memberships = await run.memberships(client, g.entries);
      } else run.message('Group syncing is disabled for this Source');
      // (only after a complete search: a failed one would take every object with it)
      if (source.delete_not_found_objects) {
        if (source.sync_users) await run.removeMissing('user');
        if (source.sync_groups) await run.removeMissing('group');
      }
    });
    run.message(`Synced ${out.users} users, ${out.groups} groups, ${out.memberships} memberships`);
    // (what this run did not queue is pushed by a full sync of each outgoing provider)
    if (source.sync_outgoing_trigger_mode === 'deferred_end') await svc.signals.outgoingFullSync();
  } catch (e) {
    out.status = 'error';
    run.message(`Failed to sync: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (out.status === 'done' && run.warned) out.status = 'warning';
  return out;
}
