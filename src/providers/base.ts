/** What every provider type shares: the base fields, the Provider object of /providers/all/, assigned applications, used_by. */
import type {} from './table.js';
import type {} from '../applications/table.js';
import { S, type Props } from '../rest/schema.js';
import type { UsedBy } from '../rest/resource.js';
import type { DB } from '../db/index.js';
import type { ProviderDef } from './types.js';

const flowFk = (description: string, o: Record<string, unknown> = {}) =>
  S.fk({ table: 'flows', column: 'flow_uuid' }, { default: null, description, ...o });

/** authentik's ProviderSerializer fields */
export const baseProviderProps: Props = {
  pk: S.ro(S.int({ title: 'ID' })),
  name: S.str({ 'x-unique': { table: 'providers', column: 'name', self: 'id', message: 'provider with this name already exists.' } }),
  authentication_flow: flowFk('Flow used for authentication when the associated application is accessed by an un-authenticated user.'),
  authorization_flow: flowFk('Flow used when authorizing this provider.'),
  invalidation_flow: flowFk('Flow used ending the session from a provider.'),
  property_mappings: S.m2m({ table: 'property_mappings', column: 'pm_uuid' }, { default: [], 'x-m2m-table': true }),
  component: S.ro(S.text({ 'x-computed': true })),
  assigned_application_slug: S.ro(S.nullable(S.text({ 'x-computed': true }))),
  assigned_application_name: S.ro(S.nullable(S.text({ 'x-computed': true }))),
  assigned_backchannel_application_slug: S.ro(S.nullable(S.text({ 'x-computed': true }))),
  assigned_backchannel_application_name: S.ro(S.nullable(S.text({ 'x-computed': true }))),
  verbose_name: S.ro(S.text({ 'x-computed': true })),
  verbose_name_plural: S.ro(S.text({ 'x-computed': true })),
  meta_model_name: S.ro(S.text({ 'x-computed': true })),
};

/** base props with the flows a type requires made required and non-null (OAuth2: authorization and invalidation) */
/** the base fields a backchannel-only type leaves out */
const FRONT_CHANNEL_ONLY = [
  'authentication_flow',
  'authorization_flow',
  'invalidation_flow',
  'assigned_application_slug',
  'assigned_application_name',
] as const;

export function basePropsFor(def: ProviderDef): Props {
  const props: Props = { ...baseProviderProps };
  if (def.backchannelOnly) for (const k of FRONT_CHANNEL_ONLY) delete props[k];
  for (const k of def.omitBase ?? []) delete props[k];
  for (const k of def.requiredBase ?? []) {
    const { default: _d, nullable: _n, ...rest } = props[k]! as Record<string, unknown>;
    props[k] = rest as never;
  }
  return props;
}

export const providerMeta = (def: ProviderDef | undefined) =>
  def
    ? {
        component: def.component,
        verbose_name: def.verboseName,
        verbose_name_plural: def.verboseNamePlural,
        meta_model_name: `${def.app}.${def.kind}`,
      }
    : { component: '', verbose_name: 'Provider', verbose_name_plural: 'Providers', meta_model_name: 'authentik_core.provider' };

/** a provider's application as the protocols read it, from a provider row joined with its application (`a.*` as `app_*`) */
export interface ProtocolApplication {
  slug: string;
  name: string;
  pbm_uuid: string;
  policy_engine_mode: 'any' | 'all';
}

export function applicationOfRow(row: {
  app_slug: string | null;
  app_name: string | null;
  app_pbm_uuid: string | null;
  app_mode: string | null;
}): ProtocolApplication | null {
  if (row.app_slug === null || row.app_pbm_uuid === null) return null;
  return {
    slug: row.app_slug,
    name: row.app_name ?? '',
    pbm_uuid: row.app_pbm_uuid,
    policy_engine_mode: row.app_mode === 'all' ? 'all' : 'any',
  };
}

export interface Assigned {
  application?: { slug: string; name: string };
  backchannel?: { slug: string; name: string };
}

/** each provider's application and backchannel application */
export async function assignedApplications(db: DB, ids: number[]): Promise<Map<number, Assigned>> {
  const out = new Map<number, Assigned>();
  if (!ids.length) return out;
  for (const id of ids) out.set(id, {});
  const apps = await db.selectFrom('applications').select(['provider', 'slug', 'name']).where('provider', 'in', ids).execute();
  for (const a of apps) out.get(Number(a.provider))!.application = { slug: a.slug, name: a.name };
  const back = await db
    .selectFrom('application_backchannel_providers as b')
    .innerJoin('applications as a', 'a.pbm_uuid', 'b.application')
    .select(['b.provider_id', 'a.slug', 'a.name'])
    .where('b.provider_id', 'in', ids)
    .execute();
  for (const b of back) out.get(Number(b.provider_id))!.backchannel = { slug: b.slug, name: b.name };
  return out;
}

/** each provider's property mappings (pm_uuids) */
export async function mappingsOf(db: DB, ids: number[]): Promise<Map<number, string[]>> {
  const out = new Map<number, string[]>();
  for (const id of ids) out.set(id, []);
  if (!ids.length) return out;
  const rows = await db
    .selectFrom('provider_property_mappings')
    .select(['provider_id', 'pm_uuid'])
    .where('provider_id', 'in', ids)
    .orderBy('pm_uuid')
    .execute();
  for (const r of rows) out.get(Number(r.provider_id))!.push(r.pm_uuid);
  return out;
}

/** the base fields of rendered providers (in place) */
export async function renderBase(db: DB, rows: { id: number }[], outs: Record<string, unknown>[]) {
  const ids = rows.map((r) => Number(r.id));
  const [assigned, mappings] = await Promise.all([assignedApplications(db, ids), mappingsOf(db, ids)]);
  rows.forEach((r, i) => {
    const o = outs[i]!;
    const a = assigned.get(Number(r.id)) ?? {};
    o.property_mappings = mappings.get(Number(r.id)) ?? [];
    o.assigned_application_slug = a.application?.slug ?? null;
    o.assigned_application_name = a.application?.name ?? null;
    o.assigned_backchannel_application_slug = a.backchannel?.slug ?? null;
    o.assigned_backchannel_application_name = a.backchannel?.name ?? null;
  });
}

/** used_by of a provider: the application it serves (its provider set to null), as a backchannel provider too */
export async function providerUsedBy(db: DB, id: number): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  const a = await db.selectFrom('applications').select(['pbm_uuid', 'name']).where('provider', '=', id).executeTakeFirst();
  if (a) out.push({ app: 'authentik_core', model_name: 'application', pk: a.pbm_uuid, name: a.name, action: 'set_null' });
  const b = await db
    .selectFrom('application_backchannel_providers as b')
    .innerJoin('applications as a', 'a.pbm_uuid', 'b.application')
    .select(['a.pbm_uuid', 'a.name'])
    .where('b.provider_id', '=', id)
    .executeTakeFirst();
  if (b) out.push({ app: 'authentik_core', model_name: 'application', pk: b.pbm_uuid, name: b.name, action: 'set_null' });
  return out;
}

export interface BaseProviderRow {
  id: number;
  name: string;
  kind: string;
  authentication_flow: string | null;
  authorization_flow: string | null;
  invalidation_flow: string | null;
}

/** authentik's Provider objects (ProviderSerializer) for base rows; `byKind` gives each type's identity */
export async function renderProviders(
  db: DB,
  rows: BaseProviderRow[],
  byKind: (kind: string) => ProviderDef | undefined,
): Promise<Record<string, unknown>[]> {
  const outs = rows.map((r) => ({
    pk: Number(r.id),
    name: r.name,
    authentication_flow: r.authentication_flow,
    authorization_flow: r.authorization_flow,
    invalidation_flow: r.invalidation_flow,
    property_mappings: [] as string[],
    ...providerMeta(byKind(r.kind)),
  })) as Record<string, unknown>[];
  await renderBase(db, rows, outs);
  // authentik's field order
  return outs.map((o) => ({
    pk: o.pk,
    name: o.name,
    authentication_flow: o.authentication_flow,
    authorization_flow: o.authorization_flow,
    invalidation_flow: o.invalidation_flow,
    property_mappings: o.property_mappings,
    component: o.component,
    assigned_application_slug: o.assigned_application_slug,
    assigned_application_name: o.assigned_application_name,
    assigned_backchannel_application_slug: o.assigned_backchannel_application_slug,
    assigned_backchannel_application_name: o.assigned_backchannel_application_name,
    verbose_name: o.verbose_name,
    verbose_name_plural: o.verbose_name_plural,
    meta_model_name: o.meta_model_name,
  }));
}

/**
 * used_by of a flow: the providers that use it — deleted with their authorization flow (authentik's on_delete
 * CASCADE), their authentication or invalidation flow set to null
 */
export async function flowProvidersUsedBy(db: DB, flow: string, byKind: (kind: string) => ProviderDef | undefined): Promise<UsedBy[]> {
  const rows = await db
    .selectFrom('providers')
    .select(['id', 'name', 'kind', 'authentication_flow', 'authorization_flow', 'invalidation_flow'])
    .where((eb) => eb.or([eb('authorization_flow', '=', flow), eb('authentication_flow', '=', flow), eb('invalidation_flow', '=', flow)]))
    .orderBy('name')
    .execute();
  return rows.map((r) => {
    const def = byKind(r.kind);
    return {
      app: def?.app ?? 'authentik_core',
      model_name: r.kind,
      pk: String(r.id),
      name: def?.describe ? def.describe(r.name) : r.name,
      action: r.authorization_flow === flow ? 'cascade' : 'set_null',
    };
  });
}
