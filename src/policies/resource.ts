/** Builds the REST resource of a policy type from its PolicyDef: base fields + the type's own, in two tables. */
import { newPk } from '../rest/requested-pk.js';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { apiToRow, nowIso, rowToApi, rowToConfig } from '../rest/serialize.js';
import type { FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { DB } from '../db/index.js';
import { cachedAdminData } from '../db/admin-cache.js';
import { basePolicyProps, boundTo, policyMeta, policyUsedBy } from './base.js';
import type { PolicyDef } from './types.js';

type Row = Record<string, unknown> & { pk: string; policy_uuid: string; name: string };

const propsOf = new WeakMap<PolicyDef, Props>();
export function policyProps(def: PolicyDef): Props {
  let props = propsOf.get(def);
  if (!props) propsOf.set(def, (props = { ...basePolicyProps, ...def.fields }));
  return props;
}

/** columns of the type's own table */
export const ownColumns = (def: PolicyDef) =>
  Object.entries(def.fields)
    .filter(([, s]) => !s.readOnly && !s['x-computed'])
    .map(([k]) => k);

function policyRows(db: DB, def: PolicyDef) {
  return db
    .selectFrom('policies as p' as 'policies')
    .innerJoin(`${def.table} as t` as 'policies', 't.policy_uuid' as 'policies.policy_uuid', 'p.policy_uuid' as 'policies.policy_uuid')
    .select(['p.policy_uuid as pk', 'p.policy_uuid', 'p.name', 'p.kind', 'p.execution_logging'] as never[])
    .select(ownColumns(def).map((c) => `t.${c}`) as never[]);
}

function pick(def: PolicyDef, data: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const c of ownColumns(def)) if (data[c] !== undefined) out[c] = data[c];
  return out;
}

export function policyFilters(def: PolicyDef): Record<string, FilterSpec> {
  return {
    name: { type: 'str', column: 'p.name' },
    policy_uuid: { type: 'uuid', column: 'p.policy_uuid' },
    execution_logging: { type: 'bool', column: 'p.execution_logging' },
    created: { type: 'datetime', column: 'p.created' },
    last_updated: { type: 'datetime', column: 'p.last_updated' },
    ...def.filters,
  };
}

export function policyResource(def: PolicyDef): ResourceDef<Row> {
  const props = policyProps(def);
  const meta = policyMeta(def);
  return {
    component: def.model,
    model: def.model,
    path: `/policies/${def.path}`,
    opPrefix: `policies_${def.path}`,
    tag: 'policies',
    lookup: { param: 'policy_uuid', column: 'p.policy_uuid', rowKey: 'policy_uuid', type: 'uuid' },
    props,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: `${def.app}.${def.kind}`, verbose: def.verboseName },
    list: {
      filters: policyFilters(def),
      search: ['p.name'],
      ordering: {
        name: 'p.name',
        pk: 'p.policy_uuid',
        ...Object.fromEntries(
          ownColumns(def)
            .filter((c) => !def.fields[c]!['x-json'] && !def.fields[c]!.writeOnly)
            .map((c) => [c, `t.${c}`]),
        ),
      },
      defaultOrdering: ['name'],
      pk: 'p.policy_uuid',
      unique: ['p.name'],
    },
    select: (db) => policyRows(db, def).where('p.kind' as 'policies.kind', '=', def.kind),
    render: async (db, rows) => {
      const counts = await boundTo(
        db,
        rows.map((r) => r.policy_uuid),
      );
      return rows.map((r) => {
        const o = rowToApi(props, r);
        Object.assign(o, meta);
        o.bound_to = counts.get(r.policy_uuid) ?? 0;
        def.present?.(o);
        return o;
      });
    },
    validate: async (data, ctx, existing) => {
      if (def.validate) await def.validate(data, ctx, existing);
    },
    insert: async (tx, data) => {
      const policy_uuid = newPk();
      const now = nowIso();
      await tx
        .insertInto('policies')
        .values({
          policy_uuid,
          name: data.name as string,
          kind: def.kind,
          execution_logging: data.execution_logging ? 1 : 0,
          created: now,
          last_updated: now,
        })
        .execute();
      await tx
        .insertInto(def.table as 'policies')
        .values({ policy_uuid, ...apiToRow(def.fields, pick(def, data)) } as never)
        .execute();
      return policy_uuid;
    },
    update: async (tx, existing, data) => {
      const id = existing.policy_uuid;
      const base: Record<string, unknown> = { last_updated: nowIso() };
      if (data.name !== undefined) base.name = data.name;
      if (data.execution_logging !== undefined) base.execution_logging = data.execution_logging ? 1 : 0;
      await tx
        .updateTable('policies')
        .set(base as never)
        .where('policy_uuid', '=', id)
        .execute();
      const cols = apiToRow(def.fields, pick(def, data));
      if (Object.keys(cols).length)
        await tx
          .updateTable(def.table as 'policies')
          .set(cols as never)
          .where('policy_uuid', '=', id)
          .execute();
      return id;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('policies').where('policy_uuid', '=', existing.policy_uuid).execute();
    },
    usedBy: (db, row) => policyUsedBy(db, row),
  };
}

export function mountPolicyType(router: ApiRouter, db: DB, def: PolicyDef) {
  return mountResource(router, db, policyResource(def));
}

/** A policy's stored configuration as its `evaluate` reads it; kept until the next admin write, frozen. */
export function loadPolicyConfig<C>(db: DB, def: PolicyDef, policyUuid: string): Promise<C | undefined> {
  return cachedAdminData(db, `policy:${def.kind}:${policyUuid}`, async () => {
    const row = (await policyRows(db, def)
      .where('p.policy_uuid' as 'policies.policy_uuid', '=', policyUuid)
      .executeTakeFirst()) as Row | undefined;
    if (!row) return undefined;
    const config = rowToConfig(policyProps(def), row);
    return { ...config, pk: row.policy_uuid, name: row.name } as C;
  });
}
