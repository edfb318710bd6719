/**
 * /sources/oauth/ (authentik's OAuthSourceViewSet) and /sources/all/ (SourceViewSet: every source as a base Source,
 * `types`, `user_settings`), with /sources/oauth/source_types/. A source's base row is in `sources`, the OAuth
 * settings in `oauth_sources`; the consumer secret is sealed at rest and never returned.
 */
import { assetUrl, themedAssetUrls } from '../files/names.js';
import { newPk } from '../rest/requested-pk.js';
import { requestOrigin } from '../brands/links.js';
import { type ColumnReference, referencesUsedBy, releaseReferences } from '../rest/references.js';
import { sql, type Kysely } from 'kysely';
import { mountResource, type ResourceDef, type Tx, type UsedBy, type WriteCtx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { apiToRow, rowToApi } from '../rest/serialize.js';
import { requireCaller } from '../rest/auth.js';
import { ValidationError } from '../rest/errors.js';
import type { FilterSpec } from '../rest/list.js';
import type { Props } from '../rest/schema.js';
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import { deleteBindingsOf } from '../policies/targets.js';
import { httpOf } from '../policies/request.js';
import { secretsOf } from '../instance/secrets.js';
import type { Services } from '../services.js';
import type { OAuthSourcesTable, SourcesTable } from './table.js';
import { BASE_COLUMNS, baseSourceProps, OAUTH_COLUMNS, oauthSourceProps, sourceTypeComponent } from './schema.js';
import { SUPPORTED, sourceType, typeJson, urlOf } from './oauth/types.js';
import { discover } from './oauth/discovery.js';
import { callbackPath, loginPath } from './oauth/paths.js';
import { samlPath } from './saml/paths.js';

export type SourceRow = SourcesTable & { pk: string };
export type OAuthSourceRow = SourceRow & OAuthSourcesTable;

/**
 * a list of sources stored as JSON in another table's column (the identification stage's `sources`, an OAuth2
 * provider's `jwt_federation_sources`), keyed by `pk`
 */
export interface JsonListReference {
  table: string;
  column: string;
  pk: string;
}

const KIND = 'oauthsource';
const SECRET = 'oauth_sources.consumer_secret';
const oauthProps = { ...baseSourceProps, ...oauthSourceProps };

/** what the API shows of a source type (authentik's component, verbose names and model): `oauth`, `OAuth` */
export const sourceMeta = (type: string, label: string) => ({
  component: `ak-source-${type}-form`,
  verbose_name: `${label} Source`,
  verbose_name_plural: `${label} Sources`,
  meta_model_name: `authentik_sources_${type}.${type}source`,
});

export const oauthMeta = sourceMeta('oauth', 'OAuth');
/** what /sources/all/ shows of a source's kind */
export const ldapMeta = sourceMeta('ldap', 'LDAP');
export const scimMeta = sourceMeta('scim', 'SCIM');
export const samlMeta = sourceMeta('saml', 'SAML');
export const telegramMeta = sourceMeta('telegram', 'Telegram');
export const plexMeta = sourceMeta('plex', 'Plex');

const META: Record<string, typeof oauthMeta> = {
  plexsource: plexMeta,
  [KIND]: oauthMeta,
  ldapsource: ldapMeta,
  scimsource: scimMeta,
  samlsource: samlMeta,
  telegramsource: telegramMeta,
};

const metaOf = (kind: string) =>
  META[kind] ?? { component: '', verbose_name: 'Source', verbose_name_plural: 'Sources', meta_model_name: 'authentik_core.source' };

/** the app and the connection models of a source kind (authentik's per-type connection classes) */
const CONNECTION_NAMES: Record<string, { app: string; user: string; group: string; label: string }> = {
  ldapsource: { app: 'authentik_sources_ldap', user: 'userldapsourceconnection', group: 'groupldapsourceconnection', label: 'LDAP' },
  samlsource: { app: 'authentik_sources_saml', user: 'usersamlsourceconnection', group: 'groupsamlsourceconnection', label: 'SAML' },
  plexsource: { app: 'authentik_sources_plex', user: 'userplexsourceconnection', group: 'groupplexsourceconnection', label: 'Plex' },
  telegramsource: {
    app: 'authentik_sources_telegram',
    user: 'usertelegramsourceconnection',
    group: 'grouptelegramsourceconnection',
    label: 'Telegram',
  },
};
const connectionNames = (kind: string) =>
  CONNECTION_NAMES[kind] ?? {
    app: 'authentik_sources_oauth',
    user: 'useroauthsourceconnection',
    group: 'groupoauthsourceconnection',
    label: 'OAuth',
  };

function renderBase(r: SourceRow) {
  const o = rowToApi(baseSourceProps, r);
  o.pk = r.source_uuid;
  o.user_property_mappings = [];
  o.group_property_mappings = [];
  // (an uploaded file's name as its URL, src/files/)
  o.icon_url = r.icon ? assetUrl(r.icon) : null;
  o.icon_themed_urls = r.icon ? themedAssetUrls(r.icon) : null;
  Object.assign(o, metaOf(r.kind));
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
  kind: string;
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
      const source_uuid = await insertSourceRow(tx, data, o.kind);
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
      ...(await sourceUsedBy(db, row.source_uuid, o.kind)),
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
  writes: Omit<Parameters<typeof typedSourceWrites>[0], 'kind' | 'table' | 'lists' | 'references'>;
  lists: () => JsonListReference[];
  references: () => ColumnReference[];
}): ResourceDef<R> {
  const kind = `${o.type}source`;
  const meta = sourceMeta(o.type, o.label);
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
    ...typedSourceWrites<R>({ ...o.writes, kind, table: o.table, lists: o.lists, references: o.references }),
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
export async function sourceUsedBy(db: DB, source: string, kind = KIND): Promise<UsedBy[]> {
  const n = connectionNames(kind);
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

/** the sources naming a flow as their authentication or enrollment flow: a flow's `used_by` */
export async function sourcesUsingFlow(db: DB, flowUuid: string): Promise<UsedBy[]> {
  const rows = await db
    .selectFrom('sources')
    .select(['source_uuid', 'name', 'kind'])
    .where((eb) => eb.or([eb('authentication_flow', '=', flowUuid), eb('enrollment_flow', '=', flowUuid)]))
    .orderBy('name')
    .execute();
  return rows.map((r) => ({
    app: r.kind === KIND || CONNECTION_NAMES[r.kind] ? connectionNames(r.kind).app : 'authentik_core',
    model_name: r.kind,
    pk: r.source_uuid,
    name: r.kind === KIND || CONNECTION_NAMES[r.kind] ? `${connectionNames(r.kind).label} Source ${r.name}` : r.name,
    action: 'set_null',
  }));
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

/** authentik's OAuthSourceSerializer.validate, on the settings as they will be after the write */
async function validateOAuth(data: Record<string, unknown>, ctx: WriteCtx, existing?: OAuthSourceRow) {
  await checkMappings(ctx.db, data);
  const merged: Record<string, unknown> = { ...(existing ?? {}), ...data };
  if (existing && typeof existing.oidc_jwks === 'string') merged.oidc_jwks = data.oidc_jwks ?? JSON.parse(existing.oidc_jwks);
  const name = String(merged.provider_type ?? '');
  const t = sourceType(name);
  if (!t) throw new ValidationError({ provider_type: [`Keystage does not support the "${name}" source type yet.`] });
  const changed = (f: string) => ctx.mode === 'create' || data[f] !== undefined;
  // the type's client authentication unless the source names one (authentik's per-type default)
  if ((data.authorization_code_auth_method ?? null) === null) {
    if (ctx.mode === 'create') data.authorization_code_auth_method = t.codeAuth ?? 'basic_auth';
    else delete data.authorization_code_auth_method;
  }
  // (authentik runs OAuth 1 when a request token URL is set; Keystage has no OAuth 1 client, so none is taken)
  if (typeof merged.request_token_url === 'string' && merged.request_token_url !== '')
    throw new ValidationError({ request_token_url: ['OAuth 1 (a request token URL) is not supported: leave this empty.'] });
  await discover(merged, t, changed);
  for (const f of ['authorization_url', 'access_token_url', 'profile_url', 'oidc_jwks_url', 'oidc_jwks'] as const)
    if (merged[f] !== (existing as Record<string, unknown> | undefined)?.[f] || ctx.mode === 'create') data[f] = merged[f];
  // (a type whose profile is the token response's ID token has no profile URL: Apple)
  const urls = t.profileFromToken
    ? (['authorization_url', 'access_token_url'] as const)
    : (['authorization_url', 'access_token_url', 'profile_url'] as const);
  for (const url of urls)
    if (!urlOf(t, merged as never, url)) throw ValidationError.nonField(`${url} is required for provider ${t.verbose_name}`);
  for (const url of urls) {
    const v = urlOf(t, merged as never, url)!;
    if (!/^https?:\/\//i.test(v)) throw new ValidationError({ [url]: ['Enter a valid URL (http or https).'] });
  }
  // a client secret the type makes from the source's (Apple's signed JWT) is made once now, so a wrong key format or
  // key is a 400 here rather than a failed login later
  if (t.clientSecret && typeof data.consumer_secret === 'string' && typeof merged.consumer_key === 'string')
    await t.clientSecret(merged.consumer_key, data.consumer_secret).catch((e: Error) => {
      throw new ValidationError({
        consumer_secret: [/formatted like/.test(e.message) ? e.message : 'Enter the private key (PKCS #8 PEM) Apple gave for the key id.'],
      });
    });
}

function oauthColumns(db: DB, data: Record<string, unknown>) {
  const own: Record<string, unknown> = {};
  for (const c of OAUTH_COLUMNS) if (data[c] !== undefined) own[c] = data[c];
  const cols = apiToRow(oauthSourceProps, own);
  if (typeof cols.consumer_secret === 'string') cols.consumer_secret = secretsOf(db).seal(SECRET, cols.consumer_secret as string);
  return cols;
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

export function oauthSourceResource(
  lists: () => JsonListReference[],
  columns: () => ColumnReference[] = () => [],
): ResourceDef<OAuthSourceRow> {
  const own = (c: string) => ({ type: 'str' as const, column: `o.${c}` });
  return {
    component: 'OAuthSource',
    model: 'OAuthSource',
    path: '/sources/oauth',
    opPrefix: 'sources_oauth',
    tag: 'sources',
    lookup: { param: 'slug', column: 's.slug', rowKey: 'slug', type: 'slug' },
    props: oauthProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_sources_oauth.oauthsource', verbose: 'OAuth Source', pk: { column: 's.source_uuid', rowKey: 'source_uuid' } },
    list: {
      filters: {
        ...sourceFilters,
        group_matching_mode: { type: 'enum', column: 'o.group_matching_mode', values: ['identifier', 'name_link', 'name_deny'] },
        provider_type: own('provider_type'),
        request_token_url: own('request_token_url'),
        authorization_url: own('authorization_url'),
        access_token_url: own('access_token_url'),
        profile_url: own('profile_url'),
        consumer_key: own('consumer_key'),
        additional_scopes: own('additional_scopes'),
        has_jwks: {
          type: 'custom',
          parse: (values) => {
            const v = values.at(-1);
            if (v === undefined || v === '') return { cond: undefined };
            const yes = v === 'true' || v === 'True' || v === '1';
            if (!yes && v !== 'false' && v !== 'False' && v !== '0') return { error: ['Enter a valid boolean.'] };
            return { cond: () => (yes ? sql`o.oidc_jwks not in ('{}', '')` : sql`o.oidc_jwks in ('{}', '')`) as never };
          },
          schema: { type: 'boolean' },
        },
      },
      search: ['s.name', 's.slug'],
      ordering: { name: 's.name', slug: 's.slug', pk: 's.source_uuid', provider_type: 'o.provider_type', enabled: 's.enabled' },
      defaultOrdering: ['name'],
      pk: 's.source_uuid',
      unique: ['s.slug'],
    },
    select: (db) =>
      db
        .selectFrom('sources as s')
        .innerJoin('oauth_sources as o', 'o.source_uuid', 's.source_uuid')
        .selectAll('s')
        .select(OAUTH_COLUMNS.map((c) => `o.${c}` as const))
        .select('s.source_uuid as pk')
        .where('s.kind', '=', KIND),
    render: async (db, rows, req) => {
      const bases = await renderSources(db, rows);
      return rows.map((r, i) => {
        const o = { ...bases[i], ...rowToApi(oauthSourceProps, r) };
        const t = sourceType(r.provider_type);
        o.type = t ? typeJson(t) : null;
        o.callback_url = `${requestOrigin(req)}${callbackPath(r.slug)}`;
        return o;
      });
    },
    validate: validateOAuth,
    ...typedSourceWrites<OAuthSourceRow>({ kind: KIND, table: 'oauth_sources', columns: oauthColumns, lists, references: columns }),
  };
}

export function allSourcesResource(lists: () => JsonListReference[], columns: () => ColumnReference[] = () => []): ResourceDef<SourceRow> {
  return {
    component: 'Source',
    model: 'Source',
    path: '/sources/all',
    opPrefix: 'sources_all',
    tag: 'sources',
    lookup: { param: 'slug', column: 's.slug', rowKey: 'slug', type: 'slug' },
    props: baseSourceProps,
    ops: ['list', 'retrieve', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_core.source', verbose: 'Source', pk: { column: 's.source_uuid', rowKey: 'source_uuid' } },
    list: {
      filters: baseFilters,
      search: ['s.name', 's.slug'],
      ordering: { name: 's.name', slug: 's.slug', pk: 's.source_uuid' },
      defaultOrdering: ['name'],
      pk: 's.source_uuid',
      unique: ['s.slug'],
    },
    select: (db) => db.selectFrom('sources as s').selectAll('s').select('s.source_uuid as pk'),
    render: (db, rows) => renderSources(db, rows),
    remove: (tx, existing) => removeSource(tx, existing.source_uuid, lists(), columns()),
    usedBy: async (db, row) => [
      ...(await sourceUsedBy(db, row.source_uuid, row.kind)),
      ...(await referencesUsedBy(db, columns(), row.source_uuid)),
    ],
  };
}

export function mountSourceResources(
  router: ApiRouter,
  svc: Services,
  lists: () => JsonListReference[],
  columns: () => ColumnReference[] = () => [],
) {
  router.component('SourceType', sourceTypeComponent);
  router.route('/sources/oauth/source_types', {
    get: {
      doc: {
        operationId: 'sources_oauth_source_types_list',
        tag: 'sources',
        query: [{ name: 'name', schema: { type: 'string' } }],
        response: { type: 'array', items: { $ref: '#/components/schemas/SourceType' } },
      },
      handler: async (req) => {
        // any logged-in caller, as authentik's TypesMixin
        requireCaller(req);
        const name = (req.query as Record<string, string | undefined>).name;
        if (name) return [typeJson(SUPPORTED.get(name) ?? SUPPORTED.get('openidconnect')!)];
        return [...SUPPORTED.values()].map(typeJson);
      },
    },
  });
  router.route('/sources/all/types', {
    get: {
      doc: {
        operationId: 'sources_all_types_list',
        tag: 'sources',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        // any logged-in caller, as authentik's TypesMixin
        requireCaller(req);
        const ldap = {
          name: 'LDAP Source',
          description: 'Federate LDAP Directory with authentik, or create new accounts in LDAP.',
          component: 'ak-source-ldap-form',
          model_name: 'ldapsource',
          icon_url: '/static/authentik/sources/ldap.png',
          requires_enterprise: false,
          deprecated: false,
        };
        const scim = {
          name: 'SCIM Source',
          description: 'System for Cross-domain Identity Management Source, allows for cross-system user provisioning',
          component: 'ak-source-scim-form',
          model_name: 'scimsource',
          icon_url: '/static/authentik/sources/scim.png',
          requires_enterprise: false,
          deprecated: false,
        };
        const saml = {
          name: 'SAML Source',
          description: 'Login using a SAML Identity Provider',
          component: 'ak-source-saml-form',
          model_name: 'samlsource',
          icon_url: '/static/authentik/sources/saml.png',
          requires_enterprise: false,
          deprecated: false,
        };
        const telegram = {
          name: 'Telegram Source',
          description: 'Log in with Telegram.',
          component: 'ak-source-telegram-form',
          model_name: 'telegramsource',
          icon_url: '/static/authentik/sources/telegram.svg',
          requires_enterprise: false,
          deprecated: false,
        };
        const plex = {
          name: 'Plex Source',
          description: 'Authenticate against plex.tv',
          component: 'ak-source-plex-form',
          model_name: 'plexsource',
          icon_url: '/static/authentik/sources/plex.svg',
          requires_enterprise: false,
          deprecated: false,
        };
        return [
          ldap,
          plex,
          saml,
          scim,
          telegram,
          ...[...SUPPORTED.values()].map((t) => ({
            name: `${t.verbose_name} OAuth Source`,
            description:
              t.name === 'openidconnect'
                ? 'Login using a Generic OpenID-Connect compliant provider.'
                : `Social Login using ${t.verbose_name}.`,
            component: 'ak-source-oauth-form',
            model_name: `${t.name}oauthsource`,
            icon_url: `/static/authentik/sources/${t.name}.svg`,
            requires_enterprise: false,
            deprecated: false,
          })),
        ];
      },
    },
  });
  router.route('/sources/all/user_settings', {
    get: {
      doc: {
        operationId: 'sources_all_user_settings_list',
        tag: 'sources',
        response: { type: 'array', items: { $ref: '#/components/schemas/UserSetting' } },
      },
      // any logged-in user: the sources they can connect from their settings page, those whose policies pass for them
      handler: async (req) => {
        const caller = requireCaller(req);
        const rows = await svc.db
          .selectFrom('sources')
          .select(['source_uuid', 'name', 'slug', 'icon', 'kind', 'policy_engine_mode'])
          .where('enabled', '=', 1)
          .where('kind', 'in', [KIND, 'samlsource'])
          .orderBy('name')
          .execute();
        const allowed = [];
        for (const r of rows) {
          if (await svc.policies.hasBindings(r.source_uuid)) {
            const verdict = await svc.policies.check({
              target: r.source_uuid,
              mode: r.policy_engine_mode === 'all' ? 'all' : 'any',
              request: {
                user: caller.user,
                http: httpOf(req),
                obj: { app: connectionNames(r.kind).app, model_name: r.kind, pk: r.source_uuid, name: r.name, slug: r.slug },
                context: {},
                debug: false,
              },
            });
            if (!verdict.passing) continue;
          }
          allowed.push(r);
        }
        return allowed.map((r) => ({
          object_uid: r.slug,
          component: r.kind === KIND ? 'ak-user-settings-source-oauth' : 'ak-user-settings-source-saml',
          title: r.name,
          configure_url: r.kind === KIND ? loginPath(r.slug) : samlPath(r.slug),
          icon_url: r.icon ? assetUrl(r.icon) : r.kind === KIND ? null : '/static/authentik/sources/saml.png',
        }));
      },
    },
  });
  mountResource(router, svc.db, allSourcesResource(lists, columns));
  mountResource(router, svc.db, oauthSourceResource(lists, columns));
}
