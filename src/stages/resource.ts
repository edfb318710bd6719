/** Builds the REST resource of a stage type from its StageDef: base fields + the type's own, in two tables. */
import { newPk } from '../rest/requested-pk.js';
import { deleteStageBindingPolicies } from '../policies/targets.js';
import { sql } from 'kysely';
import { mountResource, type ResourceDef, type Tx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { apiToRow, rowToApi, rowToConfig } from '../rest/serialize.js';
import type { FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { DB } from '../db/index.js';
import { cachedAdminData } from '../db/admin-cache.js';
import { hot, type Hot } from '../db/hot.js';
import { applyFlowSet, parseFlowSet, type FlowSetEntry } from '../flows/rest/flowset.js';
import { baseStageProps, flowSets, metaOf, stageUsedBy } from './base.js';
import type { StageDef } from './types.js';
import { secretsOf, type Secrets } from '../instance/secrets.js';

type Row = Record<string, unknown> & { pk: string; stage_uuid: string; name: string };

const propsOf = new WeakMap<StageDef, Props>();
/** the base stage fields and the type's own (built once per type: the executor asks on every request) */
export function stageProps(def: StageDef): Props {
  let props = propsOf.get(def);
  if (!props) propsOf.set(def, (props = { ...baseStageProps, ...def.fields }));
  return props;
}

/** columns of the type's own table: writable, stored fields that are not junction-table lists */
export const ownColumns = (def: StageDef) =>
  Object.entries(def.fields)
    .filter(([k, s]) => !s.readOnly && !s['x-computed'] && !def.m2m?.[k])
    .map(([k]) => k);

/**
 * The type's secrets: its write-only columns (provider keys, passwords), stored encrypted (core/secrets.ts) and
 * decrypted only into the runtime's configuration (loadStageConfig).
 */
export const secretColumns = (def: StageDef) => ownColumns(def).filter((c) => def.fields[c]!.writeOnly);

function sealSecrets(def: StageDef, secrets: Secrets, cols: Record<string, unknown>): Record<string, unknown> {
  for (const c of secretColumns(def)) if (typeof cols[c] === 'string') cols[c] = secrets.seal(`${def.table}.${c}`, cols[c] as string);
  return cols;
}

/** a type's stages; without `kind = …` when the caller looks rows up by key (SQLite would walk the kind index) */
function stageRows(db: DB, def: StageDef) {
  return db
    .selectFrom('stages as s' as 'stages')
    .innerJoin(`${def.table} as t` as 'stages', 't.stage_uuid' as 'stages.stage_uuid', 's.stage_uuid' as 'stages.stage_uuid')
    .select(['s.stage_uuid as pk', 's.stage_uuid', 's.name', 's.kind'] as never[])
    .select(ownColumns(def).map((c) => `t.${c}`) as never[]);
}

export function selectStages(db: DB, def: StageDef) {
  return stageRows(db, def).where('s.kind' as 'stages.kind', '=', def.kind);
}

async function m2mValues(db: DB, def: StageDef, ids: string[]): Promise<Map<string, Record<string, string[]>>> {
  const out = new Map<string, Record<string, string[]>>();
  for (const id of ids) out.set(id, {});
  for (const [field, m] of Object.entries(def.m2m ?? {})) {
    for (const id of ids) out.get(id)![field] = [];
    if (!ids.length) continue;
    const rows = await db
      .selectFrom(m.table as 'stages')
      .select(['stage_uuid', 'target'] as never[])
      .where('stage_uuid', 'in', ids)
      .orderBy('position' as never)
      .execute();
    for (const r of rows as unknown as { stage_uuid: string; target: string }[]) out.get(r.stage_uuid)![field]!.push(r.target);
  }
  return out;
}

export async function renderStages(db: DB, def: StageDef, rows: Row[]) {
  const props = stageProps(def);
  const ids = rows.map((r) => r.stage_uuid);
  const [sets, m2m] = await Promise.all([flowSets(db, ids), m2mValues(db, def, ids)]);
  const meta = metaOf(def);
  // built by assignment, not spreads: one object per stage with a stable shape
  const out = rows.map((r) => {
    const o = rowToApi(props, r);
    o.component = meta.component;
    o.verbose_name = meta.verbose_name;
    o.verbose_name_plural = meta.verbose_name_plural;
    o.meta_model_name = meta.meta_model_name;
    o.flow_set = sets.get(r.stage_uuid) ?? [];
    const links = m2m.get(r.stage_uuid);
    if (links) for (const k in links) o[k] = links[k];
    return o;
  });
  if (def.renderExtra) await def.renderExtra(db, out);
  return out;
}

async function writeM2M(tx: Tx, def: StageDef, stageId: string, data: Record<string, unknown>) {
  for (const [field, m] of Object.entries(def.m2m ?? {})) {
    const ids = data[field] as string[] | undefined | null;
    if (ids === undefined || ids === null) continue;
    await tx
      .deleteFrom(m.table as 'stages')
      .where('stage_uuid', '=', stageId)
      .execute();
    const unique = [...new Set(ids)];
    if (unique.length)
      await tx
        .insertInto(m.table as 'stages')
        .values(unique.map((target, position) => ({ stage_uuid: stageId, target, position })) as never)
        .execute();
  }
}

export function stageFilters(def: StageDef): Record<string, FilterSpec> {
  const f: Record<string, FilterSpec> = { name: { type: 'str', column: 's.name' } };
  for (const [k, spec] of Object.entries(def.filters ?? {})) f[k] = spec;
  return f;
}

/** `exists` condition for filtering stages by a junction-table list */
export const m2mExists = (m: { table: string }) => (eb: any, ids: string[]) =>
  eb.exists(
    eb.selectFrom(`${m.table} as j`).select(sql`1`.as('one')).whereRef('j.stage_uuid', '=', 's.stage_uuid').where('j.target', 'in', ids),
  );

export function stageResource(def: StageDef, all: () => StageDef[]): ResourceDef<Row> {
  const props = stageProps(def);
  const flowSetsByRequest = new WeakMap<object, FlowSetEntry[] | undefined>();
  const path = `/stages/${def.path}`;
  return {
    component: def.componentName ?? def.model,
    model: def.model,
    path,
    opPrefix: `stages_${def.path.replaceAll('/', '_')}`,
    tag: 'stages',
    lookup: { param: 'stage_uuid', column: 's.stage_uuid', rowKey: 'stage_uuid', type: 'uuid' },
    props,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: `${def.app}.${def.kind}`, verbose: def.verboseName },
    list: {
      cacheCount: true,
      // the join with the type's table already keeps other kinds out
      byKeys: (db) => stageRows(db as DB, def),
      filters: stageFilters(def),
      search: ['s.name'],
      ordering: {
        name: 's.name',
        pk: 's.stage_uuid',
        // secrets (write-only) are not orderable: sorting by them would let a caller compare stored values
        ...Object.fromEntries(
          ownColumns(def)
            .filter((c) => !def.fields[c]!['x-json'] && !def.fields[c]!.writeOnly)
            .map((c) => [c, `t.${c}`]),
        ),
      },
      defaultOrdering: ['name'],
      pk: 's.stage_uuid',
      // stage names are unique across all types
      unique: ['s.name'],
    },
    select: (db) => selectStages(db, def),
    render: (db, rows) => renderStages(db, def, rows),
    validate: async (data, ctx, existing) => {
      if (def.validate) await def.validate(data, ctx, existing);
      flowSetsByRequest.set(ctx.req, await parseFlowSet(ctx.db, ctx.body));
    },
    insert: async (tx, data, ctx) => {
      const stage_uuid = newPk();
      await tx
        .insertInto('stages')
        .values({ stage_uuid, name: data.name as string, kind: def.kind })
        .execute();
      const cols = sealSecrets(def, secretsOf(ctx.db), apiToRow(def.fields, pickColumns(def, data)));
      await tx
        .insertInto(def.table as 'stages')
        .values({ stage_uuid, ...cols } as never)
        .execute();
      await writeM2M(tx, def, stage_uuid, data);
      await applyFlowSet(tx, stage_uuid, flowSetsByRequest.get(ctx.req));
      return stage_uuid;
    },
    update: async (tx, existing, data, ctx) => {
      const id = existing.stage_uuid;
      if (data.name !== undefined)
        await tx
          .updateTable('stages')
          .set({ name: data.name as string })
          .where('stage_uuid', '=', id)
          .execute();
      const cols = sealSecrets(def, secretsOf(ctx.db), apiToRow(def.fields, pickColumns(def, data)));
      if (Object.keys(cols).length)
        await tx
          .updateTable(def.table as 'stages')
          .set(cols as never)
          .where('stage_uuid', '=', id)
          .execute();
      await writeM2M(tx, def, id, data);
      await applyFlowSet(tx, id, flowSetsByRequest.get(ctx.req));
      return id;
    },
    remove: async (tx, existing) => {
      await deleteStageBindingPolicies(tx, existing.stage_uuid);
      await tx.deleteFrom('stages').where('stage_uuid', '=', existing.stage_uuid).execute();
    },
    usedBy: (db, row) => stageUsedBy(db, { stage_uuid: row.stage_uuid, kind: def.kind }, all()),
  };
}

function pickColumns(def: StageDef, data: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const c of ownColumns(def)) if (data[c] !== undefined) out[c] = data[c];
  return out;
}

export function mountStage(router: ApiRouter, db: DB, def: StageDef, all: () => StageDef[]) {
  return mountResource(router, db, stageResource(def, all));
}

const configQueries = new WeakMap<DB, Map<string, Hot<{ id: string }, Row>>>();

function configQuery(db: DB, def: StageDef): Hot<{ id: string }, Row> {
  let perDb = configQueries.get(db);
  if (!perDb) configQueries.set(db, (perDb = new Map()));
  let q = perDb.get(def.kind);
  if (!q) {
    q = hot<{ id: string }, Row>(db, ['id'], (p) => selectStages(db, def).where('s.stage_uuid' as 'stages.stage_uuid', '=', p.id) as never);
    perDb.set(def.kind, q);
  }
  return q;
}

const targetQueries = new WeakMap<DB, Map<string, Hot<{ id: string }, { target: string }>>>();

/** one stage's targets in a junction table, in order (compiled once per table and database) */
function targetsOf(db: DB, table: string, id: string): Promise<{ target: string }[]> {
  let perDb = targetQueries.get(db);
  if (!perDb) targetQueries.set(db, (perDb = new Map()));
  let q = perDb.get(table);
  if (!q) {
    q = hot<{ id: string }, { target: string }>(
      db,
      ['id'],
      (p) =>
        db
          .selectFrom(table as 'stages')
          .select('target' as never)
          .where('stage_uuid', '=', p.id)
          .orderBy('position' as never) as never,
    );
    perDb.set(table, q);
  }
  return q({ id });
}

/**
 * The stored configuration of one stage (write-only fields included), as the runtime sees it; undefined if gone.
 * Kept until the next admin write (db/admin-cache.ts), frozen: runtimes read it, never change it.
 */
export function loadStageConfig<C>(db: DB, def: StageDef, stageUuid: string): Promise<C | undefined> {
  return cachedAdminData(db, `stage:${def.kind}:${stageUuid}`, () => readStageConfig<C>(db, def, stageUuid));
}

async function readStageConfig<C>(db: DB, def: StageDef, stageUuid: string): Promise<C | undefined> {
  const [row] = await configQuery(db, def)({ id: stageUuid });
  if (!row) return undefined;
  const links: Record<string, string[]> = {};
  for (const [field, m] of Object.entries(def.m2m ?? {})) links[field] = (await targetsOf(db, m.table, stageUuid)).map((r) => r.target);
  const config = rowToConfig(stageProps(def), row);
  for (const c of secretColumns(def))
    if (typeof config[c] === 'string') config[c] = secretsOf(db).open(`${def.table}.${c}`, config[c] as string);
  return { ...config, pk: row.stage_uuid, name: row.name, ...links } as C;
}
