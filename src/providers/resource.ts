/** Builds the REST resource of a provider type from its ProviderDef: base fields + the type's own, in two tables. */
import type {} from './table.js';
import type {} from '../applications/table.js';
import { sql } from 'kysely';
import { mountResource, type ResourceDef, type Tx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { apiToRow, nowIso, rowToApi } from '../rest/serialize.js';
import { boolFilter, type FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { DB } from '../db/index.js';
import type { Services } from '../services.js';
import { secretsOf, type Secrets } from '../instance/secrets.js';
import { basePropsFor, providerMeta, providerUsedBy, renderBase } from './base.js';
import type { ProviderDef, ProviderRow } from './types.js';

type Row = ProviderRow & { pk: number };

const propsOf = new WeakMap<ProviderDef, Props>();
export function providerProps(def: ProviderDef): Props {
  let props = propsOf.get(def);
  if (!props) propsOf.set(def, (props = { ...basePropsFor(def), ...def.fields }));
  return props;
}

/** columns of the type's own table */
export const ownColumns = (def: ProviderDef) =>
  Object.entries(def.fields)
    .filter(([, s]) => !s.readOnly && !s['x-computed'] && !s['x-m2m-table'])
    .map(([k]) => k);

const BASE_COLUMNS = ['authentication_flow', 'authorization_flow', 'invalidation_flow'] as const;

/** a type's providers: base row and own settings (secrets sealed) */
export function providerRows(db: DB, def: ProviderDef) {
  return db
    .selectFrom('providers as p')
    .innerJoin(`${def.table} as t` as 'providers as t', 't.provider_id' as 'p.id', 'p.id')
    .select(['p.id as pk', 'p.id', 'p.name', 'p.kind', ...BASE_COLUMNS.map((c) => `p.${c}` as const)])
    .select(['t.provider_id' as never, ...(ownColumns(def).map((c) => `t.${c}`) as never[])]);
}

function seal(def: ProviderDef, secrets: Secrets, cols: Record<string, unknown>) {
  for (const c of def.secretColumns ?? []) if (typeof cols[c] === 'string') cols[c] = secrets.seal(`${def.table}.${c}`, cols[c] as string);
  return cols;
}

/** a row's secrets in clear (for the response: authentik returns e.g. the client secret to admins) */
export function openSecrets(def: ProviderDef, secrets: Secrets, row: Record<string, unknown>) {
  const out = { ...row };
  for (const c of def.secretColumns ?? []) if (typeof out[c] === 'string') out[c] = secrets.open(`${def.table}.${c}`, out[c] as string);
  return out;
}

function own(def: ProviderDef, data: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const c of ownColumns(def)) if (data[c] !== undefined) out[c] = data[c];
  return out;
}

/** replaces a provider's property mappings */
export async function setMappings(tx: Tx, id: number, pms: string[]) {
  await tx.deleteFrom('provider_property_mappings').where('provider_id', '=', id).execute();
  const unique = [...new Set(pms)];
  if (unique.length)
    await tx
      .insertInto('provider_property_mappings')
      .values(unique.map((pm_uuid) => ({ provider_id: id, pm_uuid })))
      .execute();
}

/** a filter naming an application (its pk) by a row of `table` linking it to the provider (`providerColumn`) */
function linkedApplicationFilter(
  table: 'applications' | 'application_backchannel_providers',
  providerColumn: string,
  appColumn: string,
): FilterSpec {
  return {
    type: 'custom',
    parse: (values) => {
      const v = values.at(-1);
      if (v === undefined || v === '') return { cond: undefined };
      return {
        cond: (eb) =>
          eb.exists(
            eb
              .selectFrom(`${table} as l` as 'applications')
              .select(sql`1`.as('one'))
              .whereRef(`l.${providerColumn}` as never, '=', 'p.id' as never)
              .where(`l.${appColumn}` as never, '=', v.toLowerCase() as never),
          ),
      };
    },
    schema: { type: 'string', format: 'uuid' },
  };
}

/**
 * authentik's `backchannel_application` and `is_backchannel` filters, for the types whose lists document them (SAML):
 * the application a provider is a backchannel provider of, and whether it is one at all
 */
export const backchannelFilters: Record<string, FilterSpec> = {
  backchannel_application: linkedApplicationFilter('application_backchannel_providers', 'provider_id', 'application'),
  is_backchannel: boolFilter((b) => (eb) => {
    const some = eb.exists(
      eb
        .selectFrom('application_backchannel_providers as b')
        .select(sql`1`.as('one'))
        .whereRef('b.provider_id', '=', 'p.id' as never),
    );
    return b ? some : eb.not(some);
  }),
};

/**
 * a list filter on a provider's link table (`link`: its `provider_id` and the referenced key, named as in `ref`): the
 * providers linked to any of the given objects
 */
export function linkTableFilter(link: string, ref: { table: string; column: string }): FilterSpec {
  return {
    type: 'm2m',
    ref,
    exists: (eb, ids) =>
      eb.exists(
        eb
          .selectFrom(`${link} as l` as 'provider_property_mappings')
          .select(sql`1`.as('one'))
          .whereRef('l.provider_id' as never, '=', 'p.id' as never)
          .where(`l.${ref.column}` as 'pm_uuid', 'in', ids as string[]),
      ),
  };
}

export function providerFilters(def: ProviderDef): Record<string, FilterSpec> {
  return {
    name: { type: 'str', column: 'p.name' },
    authorization_flow: { type: 'uuid', column: 'p.authorization_flow' },
    // the application (its pk) the provider serves
    application: linkedApplicationFilter('applications', 'provider', 'pbm_uuid'),
    property_mappings: linkTableFilter('provider_property_mappings', { table: 'property_mappings', column: 'pm_uuid' }),
    ...def.filters,
  };
}

export function providerResource(def: ProviderDef, svc?: Services): ResourceDef<Row> {
  const props = providerProps(def);
  const meta = providerMeta(def);
  return {
    component: def.model,
    model: def.model,
    path: `/providers/${def.path}`,
    opPrefix: `providers_${def.path}`,
    tag: 'providers',
    lookup: { param: 'id', column: 'p.id', rowKey: 'id', type: 'int' },
    props,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: `${def.app}.${def.kind}`, verbose: def.verboseName, ...(def.permissions ? { extra: def.permissions } : {}) },
    list: {
      filters: providerFilters(def),
      search: ['p.name'],
      ordering: {
        name: 'p.name',
        pk: 'p.id',
        ...Object.fromEntries(
          ownColumns(def)
            .filter((c) => !def.fields[c]!['x-json'] && !def.fields[c]!.writeOnly && !(def.secretColumns ?? []).includes(c))
            .map((c) => [c, `t.${c}`]),
        ),
      },
      defaultOrdering: ['name'],
      pk: 'p.id',
      unique: ['p.name'],
    },
    select: (db) => providerRows(db, def).where('p.kind', '=', def.kind),
    render: async (db, rows, req) => {
      const secrets = secretsOf(db);
      const outs = rows.map((r) => {
        const o = rowToApi(props, openSecrets(def, secrets, r));
        o.pk = Number(r.id);
        Object.assign(o, meta);
        return o;
      });
      await renderBase(db, rows, outs);
      if (def.renderMore && svc) for (const o of outs) Object.assign(o, await def.renderMore(svc, o, req, db));
      if (def.backchannelOnly) for (const o of outs) for (const k of Object.keys(o)) if (!(k in props)) delete o[k];
      return outs;
    },
    validate: async (data, ctx, existing) => {
      if (ctx.mode === 'create')
        for (const [k, gen] of Object.entries(def.generate ?? {})) if (data[k] === undefined || data[k] === null) data[k] = gen();
      if (def.validate) await def.validate(data, ctx, existing);
    },
    insert: async (tx, data, ctx) => {
      const now = nowIso();
      const base = await tx
        .insertInto('providers')
        .values({
          name: data.name as string,
          kind: def.kind,
          authentication_flow: (data.authentication_flow as string | null) ?? null,
          authorization_flow: (data.authorization_flow as string | null) ?? null,
          invalidation_flow: (data.invalidation_flow as string | null) ?? null,
          created: now,
          last_updated: now,
        } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      const id = Number(base.id);
      await tx
        .insertInto(def.table as 'providers')
        .values({ provider_id: id, ...seal(def, secretsOf(ctx.db), apiToRow(def.fields, own(def, data))) } as never)
        .execute();
      await setMappings(tx, id, (data.property_mappings as string[] | undefined) ?? []);
      await def.writeMore?.(tx, id, data, ctx);
      return id;
    },
    update: async (tx, existing, data, ctx) => {
      const id = Number(existing.id);
      const base: Record<string, unknown> = { last_updated: nowIso() };
      if (data.name !== undefined) base.name = data.name;
      for (const c of BASE_COLUMNS) if (data[c] !== undefined) base[c] = data[c];
      await tx
        .updateTable('providers')
        .set(base as never)
        .where('id', '=', id)
        .execute();
      const cols = seal(def, secretsOf(ctx.db), apiToRow(def.fields, own(def, data)));
      if (Object.keys(cols).length)
        await tx
          .updateTable(def.table as 'providers')
          .set(cols as never)
          .where('provider_id' as 'id', '=', id)
          .execute();
      if (data.property_mappings !== undefined) await setMappings(tx, id, data.property_mappings as string[]);
      await def.writeMore?.(tx, id, data, ctx);
      return id;
    },
    ...(def.afterWrite && svc ? { afterWrite: (key: string | number) => def.afterWrite!(svc, Number(key)) } : {}),
    remove: async (tx, existing) => {
      await def.removeMore?.(tx, Number(existing.id));
      await tx.deleteFrom('providers').where('id', '=', Number(existing.id)).execute();
    },
    usedBy: async (db, row) => [...(await providerUsedBy(db, Number(row.id))), ...((await def.usedByMore?.(db, Number(row.id))) ?? [])],
  };
}

export function mountProviderType(router: ApiRouter, svc: Services, def: ProviderDef) {
  return mountResource(router, svc.db, providerResource(def, svc));
}
