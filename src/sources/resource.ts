/**
 * What every source type's REST resource is built from (authentik's Source base): the base row in `sources` and its
 * fields, filters and rendering, the writes of a type whose settings are a row of its own table
 * (`typedSourceWrites`, `typedSourceResource`), the property mappings, a source's removal and its connections as
 * `used_by`. What spans the types (/sources/all/) is src/sources/all.ts; each type is in its folder.
 */
import { assetUrl, themedAssetUrls } from '../files/names.js';
import { newPk } from '../rest/requested-pk.js';
import { type ColumnReference, referencesUsedBy, releaseReferences } from '../rest/references.js';
import type { Kysely } from 'kysely';
import type { ResourceDef, Tx, UsedBy } from '../rest/resource.js';
import { apiToRow, rowToApi } from '../rest/serialize.js';
import { ValidationError } from '../rest/errors.js';
import type { FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import { deleteBindingsOf } from '../policies/targets.js';
import type { SourcesTable } from './table.js';
import { BASE_COLUMNS, baseSourceProps } from './schema.js';
import { connectionModels, type JsonListReference, kindOf, type SourceNames, sourceMeta } from './kinds.js';

export type { JsonListReference } from './kinds.js';
export type SourceRow = SourcesTable & { pk: string };

function renderBase(r: SourceRow) {
  const o = rowToApi(baseSourceProps, r);
  o.pk = r.source_uuid;
  o.user_property_mappings = [];
  o.group_property_mappings = [];
  // (an uploaded file's name as its URL, src/files/)
  o.icon_url = r.icon ? assetUrl(r.icon) : null;
  o.icon_themed_urls = r.icon ? themedAssetUrls(r.icon) : null;
  return o;
}

export const flowRef = { table: 'flows', column: 'flow_uuid' };

export const baseFilters: Record<string, FilterSpec> = {
  pbm_uuid: { type: 'uuid', column: 's.source_uuid' },
  managed: { type: 'str', column: 's.managed' },
  slug: { type: 'str', column: 's.slug' },
  name: { type: 'str', column: 's.name' },
};

/** a source type's defaults for the columns a create may leave out: its fields' model defaults, as stored */
export function columnDefaults(props: Props, columns: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of columns) {
    const d = (props[c] as { default?: unknown }).default;
    if (d !== undefined) out[c] = d;
  }
  return apiToRow(props, out);
}

/** the list filters every source type has (authentik's SourceSerializer fields) */
export const sourceFilters: Record<string, FilterSpec> = {
  ...baseFilters,
  enabled: { type: 'bool', column: 's.enabled' },
  authentication_flow: { type: 'fk', column: 's.authentication_flow', ref: flowRef },
  enrollment_flow: { type: 'fk', column: 's.enrollment_flow', ref: flowRef },
  policy_engine_mode: { type: 'enum', column: 's.policy_engine_mode', values: ['all', 'any'] },
  user_matching_mode: {
    type: 'enum',
    column: 's.user_matching_mode',
    values: ['identifier', 'email_link', 'email_deny', 'username_link', 'username_deny'],
  },
};

/**
 * The writes of a source type whose settings are one row of its own table beside the base row (keyed by
 * `source_uuid`): create both (the type's defaults under what the client sent), update the columns the write names,
 * the mappings; delete through removeSource; `used_by` its connections and the columns naming it. `stamp` adds what
 * every save sets (an LDAP source's sync request).
 */
export function typedSourceWrites<R extends SourceRow>(o: {
  names: SourceNames;
  table: string;
  columns: (db: DB, data: Record<string, unknown>) => Record<string, unknown>;
  /** the type's defaults (a function: made anew for each source, such as a generated id) */
  defaults?: Record<string, unknown> | (() => Record<string, unknown>);
  stamp?: () => Record<string, unknown>;
  lists: () => JsonListReference[];
  references: () => ColumnReference[];
}): Pick<ResourceDef<R>, 'insert' | 'update' | 'remove' | 'usedBy'> {
  const t = o.table as 'sources';
  return {
    insert: async (tx, data, ctx) => {
      const source_uuid = await insertSourceRow(tx, data, kindOf(o.names));
      await tx
        .insertInto(t)
        .values({
          ...(typeof o.defaults === 'function' ? o.defaults() : (o.defaults ?? {})),
          ...o.columns(ctx.db, data),
          ...(o.stamp?.() ?? {}),
          source_uuid,
        } as never)
        .execute();
      await writeMappings(tx, source_uuid, data);
      return data.slug as string;
    },
    update: async (tx, existing, data, ctx) => {
      await updateSourceRow(tx, existing.source_uuid, data);
      const cols = { ...o.columns(ctx.db, data), ...(o.stamp?.() ?? {}) };
      if (Object.keys(cols).length)
        await tx
          .updateTable(t)
          .set(cols as never)
          .where('source_uuid', '=', existing.source_uuid)
          .execute();
      await writeMappings(tx, existing.source_uuid, data);
      return (data.slug as string | undefined) ?? existing.slug;
    },
    remove: (tx, existing) => removeSource(tx, existing.source_uuid, o.lists(), o.references()),
    usedBy: async (db, row) => [
      ...(await sourceUsedBy(db, row.source_uuid, o.names)),
      ...(await referencesUsedBy(db, o.references(), row.source_uuid)),
    ],
  };
}

/**
 * The REST resource of a source type whose settings are a row of its own table (`/sources/<type>/`): authentik's
 * names, paths and permissions from the type, the base and the type's fields rendered, its secrets left out, the
 * writes of typedSourceWrites.
 */
export function typedSourceResource<R extends SourceRow>(o: {
  type: string;
  label: string;
  table: string;
  /** the type's table's alias in the select (its filters' columns) */
  alias: string;
  props: Props;
  filters: Record<string, FilterSpec>;
  icon: string;
  /** fields never returned (write-only secrets) */
  hidden?: string[];
  /** what the type adds to each rendered object */
  extra?: (row: R, out: Record<string, unknown>, req: FastifyRequest) => void;
  validate?: ResourceDef<R>['validate'];
  afterWrite?: ResourceDef<R>['afterWrite'];
  afterRemove?: ResourceDef<R>['afterRemove'];
  writes: Omit<Parameters<typeof typedSourceWrites>[0], 'names' | 'table' | 'lists' | 'references'>;
  lists: () => JsonListReference[];
  references: () => ColumnReference[];
}): ResourceDef<R> {
  const names = { type: o.type, label: o.label };
  const kind = kindOf(names);
  const meta = sourceMeta(names);
  return {
    component: `${o.label}Source`,
    model: `${o.label}Source`,
    path: `/sources/${o.type}`,
    opPrefix: `sources_${o.type}`,
    tag: 'sources',
    lookup: { param: 'slug', column: 's.slug', rowKey: 'slug', type: 'slug' },
    props: { ...baseSourceProps, ...o.props },
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: {
      label: `authentik_sources_${o.type}.${kind}`,
      verbose: meta.verbose_name,
      pk: { column: 's.source_uuid', rowKey: 'source_uuid' },
    },
    list: {
      filters: o.filters,
      search: ['s.name', 's.slug'],
      ordering: { name: 's.name', slug: 's.slug', pk: 's.source_uuid', enabled: 's.enabled' },
      defaultOrdering: ['name'],
      pk: 's.source_uuid',
      unique: ['s.slug'],
    },
    select: (db) =>
      (db as unknown as Kysely<any>)
        .selectFrom('sources as s')
        .innerJoin(`${o.table} as ${o.alias}`, `${o.alias}.source_uuid`, 's.source_uuid')
        .selectAll('s')
        .selectAll(o.alias)
        .select('s.source_uuid as pk')
        .where('s.kind', '=', kind) as never,
    render: async (db, rows, req) => {
      const bases = await renderSources(db, rows);
      return rows.map((r, i) => {
        const out: Record<string, unknown> = { ...bases[i], ...rowToApi(o.props, r), ...meta };
        for (const h of o.hidden ?? []) delete out[h];
        out.icon_url = r.icon ? assetUrl(r.icon) : o.icon;
        o.extra?.(r, out, req);
        return out;
      });
    },
    ...(o.validate ? { validate: o.validate } : {}),
    ...(o.afterWrite ? { afterWrite: o.afterWrite } : {}),
    ...(o.afterRemove ? { afterRemove: o.afterRemove } : {}),
    ...typedSourceWrites<R>({ ...o.writes, names, table: o.table, lists: o.lists, references: o.references }),
  };
}

/** a source's icon, which may name an uploaded file (the files' `used_by`, src/files/) */
export const sourceFileReferences = (): ColumnReference[] => [
  {
    table: 'sources',
    column: 'icon',
    pk: 'source_uuid',
    name: 'name',
    app: 'authentik_core',
    model_name: 'source',
    action: 'left_dangling',
  },
];

/**
 * The key pairs a source type's table names (the pairs' `used_by`): `failClosed` is the column whose pair, deleted,
 * also disables the source — it would otherwise go on without the check the pair made (authentik's SET_NULL)
 */
export const sourceKeyPairReferences = (type: string, table: string, columns: readonly string[], failClosed: string): ColumnReference[] =>
  columns.map((column) => ({
    table,
    column,
    pk: 'source_uuid',
    name: 'name',
    nameFrom: { table: 'sources', key: 'source_uuid' },
    app: `authentik_sources_${type}`,
    model_name: `${type}source`,
    action: column === failClosed ? ('set_null_disable' as const) : ('set_null' as const),
  }));

/** authentik's used_by: the connections go with the source */
export async function sourceUsedBy(db: DB, source: string, names: SourceNames): Promise<UsedBy[]> {
  const n = connectionModels(names);
  const rows = await db
    .selectFrom('user_source_connections as c')
    .innerJoin('users as u', 'u.id', 'c.user_id')
    .select(['c.id', 'u.username'])
    .where('c.source_uuid', '=', source)
    .orderBy('c.id')
    .execute();
  const groups = await db
    .selectFrom('group_source_connections as c')
    .innerJoin('groups as g', 'g.group_uuid', 'c.group_uuid')
    .select(['c.id', 'g.name'])
    .where('c.source_uuid', '=', source)
    .orderBy('c.id')
    .execute();
  return [
    ...rows.map((r) => ({
      app: n.app,
      model_name: n.user,
      pk: String(r.id),
      name: `User ${n.label} Source Connection ${r.username}`,
      action: 'cascade' as const,
    })),
    ...groups.map((g) => ({
      app: n.app,
      model_name: n.group,
      pk: String(g.id),
      name: `Group ${n.label} Source Connection ${g.name}`,
      action: 'cascade' as const,
    })),
  ];
}

/** deletes a source; its uuid leaves every JSON list naming it (the identification stages' `sources`) */
export async function removeSource(tx: Tx, source: string, lists: JsonListReference[], columns: ColumnReference[]) {
  const t = tx as unknown as Kysely<any>;
  // columns naming the source (a source stage's `source`: the stage goes with it)
  await releaseReferences(tx, columns, source);
  for (const ref of lists) {
    const rows = await t.selectFrom(ref.table).select([ref.pk, ref.column]).where(ref.column, 'like', `%${source}%`).execute();
    for (const row of rows) {
      const list = JSON.parse(String(row[ref.column] ?? '[]')) as string[];
      await t
        .updateTable(ref.table)
        .set({ [ref.column]: JSON.stringify(list.filter((x) => x !== source)) })
        .where(ref.pk, '=', row[ref.pk])
        .execute();
    }
  }
  await deleteBindingsOf(tx, [source]);
  await tx.deleteFrom('sources').where('source_uuid', '=', source).execute();
}

const MAPPING_FIELDS = { user_property_mappings: 'user', group_property_mappings: 'group' } as const;

/** the mappings named must be OAuth source property mappings (DRF's PrimaryKeyRelatedField over that queryset) */
export async function checkMappings(db: DB, data: Record<string, unknown>, kind = 'oauthsourcepropertymapping') {
  const errors: Record<string, string[]> = {};
  for (const f of Object.keys(MAPPING_FIELDS)) {
    const ids = data[f];
    if (!Array.isArray(ids) || !ids.length) continue;
    const found = new Set(
      (
        await db
          .selectFrom('property_mappings')
          .select('pm_uuid')
          .where('pm_uuid', 'in', ids as string[])
          .where('kind', '=', kind)
          .execute()
      ).map((r) => r.pm_uuid),
    );
    const missing = (ids as string[]).find((id) => !found.has(id));
    if (missing !== undefined) errors[f] = [`Invalid pk "${missing}" - object does not exist.`];
  }
  if (Object.keys(errors).length) throw new ValidationError(errors);
}

/** replaces a source's user or group mappings where the write names them */
export async function writeMappings(tx: Tx, source: string, data: Record<string, unknown>) {
  for (const [f, kind] of Object.entries(MAPPING_FIELDS)) {
    const ids = data[f];
    if (!Array.isArray(ids)) continue;
    await tx.deleteFrom('source_property_mappings').where('source_uuid', '=', source).where('kind', '=', kind).execute();
    const unique = [...new Set(ids as string[])];
    if (unique.length)
      await tx
        .insertInto('source_property_mappings')
        .values(unique.map((pm_uuid) => ({ source_uuid: source, pm_uuid, kind })))
        .execute();
  }
}

/** each source's user and group mappings (pm_uuids, by name) */
async function mappingsOf(db: DB, sources: string[]): Promise<Map<string, { user: string[]; group: string[] }>> {
  const out = new Map<string, { user: string[]; group: string[] }>();
  for (const s of sources) out.set(s, { user: [], group: [] });
  if (!sources.length) return out;
  const rows = await db
    .selectFrom('source_property_mappings as spm')
    .innerJoin('property_mappings as m', 'm.pm_uuid', 'spm.pm_uuid')
    .select(['spm.source_uuid', 'spm.pm_uuid', 'spm.kind'])
    .where('spm.source_uuid', 'in', sources)
    .orderBy('m.name')
    .execute();
  for (const r of rows) out.get(r.source_uuid)?.[r.kind].push(r.pm_uuid);
  return out;
}

/** the base Source objects of `rows`, with their mappings */
export async function renderSources(db: DB, rows: SourceRow[]): Promise<Record<string, unknown>[]> {
  const maps = await mappingsOf(
    db,
    rows.map((r) => r.source_uuid),
  );
  return rows.map((r) => ({
    ...renderBase(r),
    user_property_mappings: maps.get(r.source_uuid)?.user ?? [],
    group_property_mappings: maps.get(r.source_uuid)?.group ?? [],
  }));
}

/** a new source's base row (its kind's own row and mappings are the caller's) */
export async function insertSourceRow(tx: Tx, data: Record<string, unknown>, kind: string): Promise<string> {
  const source_uuid = newPk();
  await tx
    .insertInto('sources')
    .values({ ...baseColumns(data), source_uuid, kind } as never)
    .execute();
  return source_uuid;
}

/** the base row's columns a write names */
export async function updateSourceRow(tx: Tx, sourceUuid: string, data: Record<string, unknown>) {
  const base = baseColumns(data);
  if (Object.keys(base).length)
    await tx
      .updateTable('sources')
      .set(base as never)
      .where('source_uuid', '=', sourceUuid)
      .execute();
}

export function baseColumns(data: Record<string, unknown>) {
  const base: Record<string, unknown> = {};
  for (const c of BASE_COLUMNS) if (data[c] !== undefined) base[c] = data[c];
  return apiToRow(baseSourceProps, base);
}
