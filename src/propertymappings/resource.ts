/**
 * Property mappings: /propertymappings/all/ (every mapping as a PropertyMapping, `types`, `test`, used_by) and
 * /propertymappings/provider/scope/ (scope mappings: authentik's ScopeMappingViewSet),
 * /propertymappings/provider/saml/ (the SAML provider's attributes: authentik's SAMLPropertyMappingViewSet),
 * /propertymappings/provider/scim/ (what the SCIM provider writes: authentik's SCIMMappingViewSet) and
 * /propertymappings/notification/ (webhook mappings: the payload an SMS stage sends, propertymappings/webhook.ts).
 * Expressions are authentik's Python, checked on save (authentik's six managed texts need no runtime). Columns of
 * other tables that reference a mapping (an SMS stage's `mapping`) are given by the app wiring: listed by used_by,
 * set to null when the mapping is deleted.
 */
import { newPk } from '../rest/requested-pk.js';
import { can } from '../rbac/check.js';
import type { FastifyRequest } from 'fastify';
import { sql, type SqlBool } from 'kysely';
import { mountResource, type ResourceDef, type Tx, type UsedBy } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S, type Props } from '../rest/schema.js';
import { nowIso } from '../rest/serialize.js';
import { boolFilter, type FilterSpec } from '../rest/list.js';
import { requireCaller, type Caller } from '../rest/auth.js';
import { type ColumnReference, referencesUsedBy, releaseReferences } from '../rest/references.js';
import { ValidationError } from '../rest/errors.js';
import { validateBody } from '../rest/validate.js';
import { checkSyntax } from '../expressions/index.js';
import type { DB } from '../db/index.js';
import type { Services } from '../services.js';
import { userById } from '../users/by-id.js';
import { nativeMappingOf, runMapping } from './scope.js';
import type { PropertyMappingsTable } from './table.js';
import { lastValue } from '../rest/routes.js';

type Row = PropertyMappingsTable & {
  pk: string;
  scope_name?: string;
  description?: string;
  saml_name?: string;
  friendly_name?: string | null;
};

const MANAGED_HELP =
  'Objects that are managed by authentik. These objects are created and updated automatically. This flag only indicates that an object can be overwritten by migrations. You can still modify the objects via the API, but expect changes to be overwritten in a later update.';

export const basePropertyMappingProps: Props = {
  pk: S.ro(S.uuid({ title: 'Pm uuid' })),
  managed: S.nullable(
    S.str({
      title: 'Managed by authentik',
      description: MANAGED_HELP,
      default: null,
      'x-unique': {
        table: 'property_mappings',
        column: 'managed',
        self: 'pm_uuid',
        message: 'Property Mapping with this Managed by authentik already exists.',
      },
    }),
  ),
  name: S.str({
    'x-unique': { table: 'property_mappings', column: 'name', self: 'pm_uuid', message: 'Property Mapping with this name already exists.' },
  }),
  expression: S.str({ 'x-no-trim': true }),
  component: S.ro(S.text({ 'x-computed': true })),
  verbose_name: S.ro(S.text({ 'x-computed': true })),
  verbose_name_plural: S.ro(S.text({ 'x-computed': true })),
  meta_model_name: S.ro(S.text({ 'x-computed': true })),
};

const scopeProps: Props = {
  ...basePropertyMappingProps,
  scope_name: S.str({ description: 'Scope name requested by the client' }),
  description: S.text({
    default: '',
    description: "Description shown to the user when consenting. If left empty, the user won't be informed.",
  }),
};

/** the mapping kinds Keystage has (authentik has more: SAML, LDAP, SCIM, sources, …) */
const KINDS: Record<string, { app: string; component: string; verbose: string; plural: string; description: string }> = {
  scopemapping: {
    app: 'authentik_providers_oauth2',
    component: 'ak-property-mapping-provider-scope-form',
    verbose: 'Scope Mapping',
    plural: 'Scope Mappings',
    description: 'Map an OAuth Scope to users properties',
  },
  samlpropertymapping: {
    app: 'authentik_providers_saml',
    component: 'ak-property-mapping-provider-saml-form',
    verbose: 'SAML Provider Property Mapping',
    plural: 'SAML Provider Property Mappings',
    description: 'Map User/Group attribute to SAML Attribute, which can be used by the Service Provider',
  },
  scimmapping: {
    app: 'authentik_providers_scim',
    component: 'ak-property-mapping-provider-scim-form',
    verbose: 'SCIM Provider Mapping',
    plural: 'SCIM Provider Mappings',
    description: 'Map authentik data to outgoing SCIM requests',
  },
  oauthsourcepropertymapping: {
    app: 'authentik_sources_oauth',
    component: 'ak-property-mapping-source-oauth-form',
    verbose: 'OAuth Source Property Mapping',
    plural: 'OAuth Source Property Mappings',
    description: 'Map OAuth properties to User or Group object attributes',
  },
  ldapsourcepropertymapping: {
    app: 'authentik_sources_ldap',
    component: 'ak-property-mapping-source-ldap-form',
    verbose: 'LDAP Source Property Mapping',
    plural: 'LDAP Source Property Mappings',
    description: 'Map LDAP Property to User or Group object attribute',
  },
  plexsourcepropertymapping: {
    app: 'authentik_sources_plex',
    component: 'ak-property-mapping-source-plex-form',
    verbose: 'Plex Source Property Mapping',
    plural: 'Plex Source Property Mappings',
    description: 'Map Plex properties to User or Group object attributes',
  },
  samlsourcepropertymapping: {
    app: 'authentik_sources_saml',
    component: 'ak-property-mapping-source-saml-form',
    verbose: 'SAML Source Property Mapping',
    plural: 'SAML Source Property Mappings',
    description: 'Map SAML properties to User or Group object attributes',
  },
  scimsourcepropertymapping: {
    app: 'authentik_sources_scim',
    component: 'ak-property-mapping-source-scim-form',
    verbose: 'SCIM Source Property Mapping',
    plural: 'SCIM Source Property Mappings',
    description: 'Map SCIM properties to User or Group object attributes',
  },
  telegramsourcepropertymapping: {
    app: 'authentik_sources_telegram',
    component: 'ak-property-mapping-source-telegram-form',
    verbose: 'Telegram Source Property Mapping',
    plural: 'Telegram Source Property Mappings',
    description: 'Map Telegram properties to User or Group object attributes',
  },
  notificationwebhookmapping: {
    app: 'authentik_events',
    component: 'ak-property-mapping-notification-form',
    verbose: 'Webhook Mapping',
    plural: 'Webhook Mappings',
    description: 'Modify the payload of outgoing webhook requests',
  },
};

const metaOf = (kind: string) => {
  const k = KINDS[kind];
  return k
    ? { component: k.component, verbose_name: k.verbose, verbose_name_plural: k.plural, meta_model_name: `${k.app}.${kind}` }
    : {
        component: '',
        verbose_name: 'Property Mapping',
        verbose_name_plural: 'Property Mappings',
        meta_model_name: 'authentik_core.propertymapping',
      };
};

const managedFilters: Record<string, FilterSpec> = {
  managed: {
    type: 'custom',
    parse: (values, _d) => {
      const chosen = values.filter((v) => v !== '');
      if (!chosen.length) return { cond: undefined };
      return { cond: (eb) => eb(sql.ref('m.managed'), 'in', chosen) };
    },
    schema: { type: 'array', items: { type: 'string' } },
    explode: true,
  },
  managed__isnull: boolFilter(
    (b) => (eb) =>
      (b
        ? eb(sql.ref('m.managed'), 'is', null)
        : eb(sql.ref('m.managed'), 'is not', null)) as never as import('kysely').Expression<SqlBool>,
  ),
};

/** used_by of a mapping: the providers using it (the link goes with the mapping) */
async function mappingUsedBy(db: DB, pm: string, references: ColumnReference[]): Promise<UsedBy[]> {
  const referencing = await referencesUsedBy(db, references, pm);
  const rows = await db
    .selectFrom('provider_property_mappings as ppm')
    .innerJoin('providers as p', 'p.id', 'ppm.provider_id')
    .select(['p.id', 'p.name'])
    .where('ppm.pm_uuid', '=', pm)
    .orderBy('p.name')
    .execute();
  // the sources mapping users or groups with it (src/sources/mappings.ts): the link goes with the mapping
  const sources = await db
    .selectFrom('source_property_mappings as spm')
    .innerJoin('sources as s', 's.source_uuid', 'spm.source_uuid')
    .select(['s.source_uuid', 's.name'])
    .where('spm.pm_uuid', '=', pm)
    .groupBy(['s.source_uuid', 's.name'])
    .orderBy('s.name')
    .execute();
  return [
    ...rows.map((r) => ({
      app: 'authentik_core',
      model_name: 'provider',
      pk: String(r.id),
      name: r.name,
      action: 'cascade_many' as const,
    })),
    ...sources.map((s) => ({
      app: 'authentik_sources_oauth',
      model_name: 'oauthsource',
      pk: s.source_uuid,
      name: `OAuth Source ${s.name}`,
      action: 'cascade_many' as const,
    })),
    ...referencing,
  ];
}

async function checkExpression(source: unknown) {
  if (typeof source !== 'string' || nativeMappingOf(source)) return;
  const c = await checkSyntax(source);
  if (c.ok) return;
  if ('unavailable' in c)
    throw new ValidationError({ expression: [`The Python runtime is unavailable, so the expression cannot be checked: ${c.message}`] });
  throw new ValidationError({ expression: [`Expression Syntax Error: ${c.message} (line ${c.line})`] });
}

/** a mapping's row in `property_mappings` (the kind's own table, if any, is the caller's); its pk */
async function insertMapping(tx: Tx, kind: string, data: Record<string, unknown>): Promise<string> {
  const pm_uuid = newPk();
  const now = nowIso();
  await tx
    .insertInto('property_mappings')
    .values({
      pm_uuid,
      name: data.name as string,
      expression: data.expression as string,
      managed: (data.managed as string | null | undefined) ?? null,
      kind,
      created: now,
      last_updated: now,
    })
    .execute();
  return pm_uuid;
}

/** the `property_mappings` columns a PUT or PATCH gives */
async function updateMapping(tx: Tx, pm_uuid: string, data: Record<string, unknown>): Promise<void> {
  const base: Record<string, unknown> = { last_updated: nowIso() };
  for (const k of ['name', 'expression', 'managed'] as const) if (data[k] !== undefined) base[k] = data[k];
  await tx.updateTable('property_mappings').set(base).where('pm_uuid', '=', pm_uuid).execute();
}

/** a mapping deleted: the columns referencing it set to null first (its scope row goes with it by its foreign key) */
async function removeMapping(tx: Tx, references: ColumnReference[], pm_uuid: string): Promise<void> {
  await releaseReferences(tx, references, pm_uuid);
  await tx.deleteFrom('property_mappings').where('pm_uuid', '=', pm_uuid).execute();
}

/** what every mapping resource deletes and reports alike: the mapping with its links, and who uses it */
const mappingLifecycle = (references: () => ColumnReference[]): Pick<ResourceDef<Row>, 'remove' | 'usedBy'> => ({
  remove: (tx, existing) => removeMapping(tx, references(), existing.pm_uuid),
  usedBy: (db, row) => mappingUsedBy(db, row.pm_uuid, references()),
});

/**
 * A mapping kind with a table of its own beside `property_mappings` (its `own` columns, keyed by `pm_uuid`):
 * authentik's ScopeMappingViewSet (`scope_name`, `description`) and SAMLPropertyMappingViewSet (`saml_name`,
 * `friendly_name`)
 */
function ownTableMappingResource(
  def: {
    kind: string;
    table: 'property_mapping_scope' | 'property_mapping_saml';
    component: string;
    path: string;
    rbac: { label: string; verbose: string };
    props: Props;
    /** the table's columns: their API value when a write leaves them out (`null`: nullable), their filter */
    own: Record<string, { absent: string | null }>;
    ordering: Record<string, string>;
    defaultOrdering: string[];
  },
  references: () => ColumnReference[],
): ResourceDef<Row> {
  const cols = Object.keys(def.own);
  return {
    component: def.component,
    model: def.component,
    path: def.path,
    opPrefix: def.path.slice(1).replace(/\//g, '_'),
    tag: 'propertymappings',
    lookup: { param: 'pm_uuid', column: 'm.pm_uuid', rowKey: 'pm_uuid', type: 'uuid' },
    props: def.props,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: def.rbac,
    list: {
      filters: {
        ...managedFilters,
        name: { type: 'str', column: 'm.name' },
        ...Object.fromEntries(cols.map((c) => [c, { type: 'str' as const, column: `s.${c}` }])),
      },
      search: ['m.name'],
      ordering: def.ordering,
      defaultOrdering: def.defaultOrdering,
      pk: 'm.pm_uuid',
      unique: ['m.name'],
    },
    select: (db) =>
      db
        .selectFrom('property_mappings as m')
        .innerJoin(`${def.table} as s` as 'property_mapping_scope as s', 's.pm_uuid', 'm.pm_uuid')
        .select([
          'm.pm_uuid as pk',
          'm.pm_uuid',
          'm.name',
          'm.expression',
          'm.managed',
          'm.kind',
          ...cols.map((c) => `s.${c}` as 's.scope_name'),
        ])
        .where('m.kind', '=', def.kind),
    render: async (_db, rows) =>
      rows.map((r) => ({
        pk: r.pm_uuid,
        managed: r.managed,
        name: r.name,
        expression: r.expression,
        ...metaOf(def.kind),
        ...Object.fromEntries(cols.map((c) => [c, (r as unknown as Record<string, unknown>)[c] ?? def.own[c]!.absent])),
      })),
    validate: async (data) => checkExpression(data.expression),
    insert: async (tx, data) => {
      const pm_uuid = await insertMapping(tx, def.kind, data);
      const values = Object.fromEntries(cols.map((c) => [c, (data[c] as string | null | undefined) ?? def.own[c]!.absent]));
      await tx
        .insertInto(def.table as 'property_mapping_scope')
        .values({ pm_uuid, ...values } as never)
        .execute();
      return pm_uuid;
    },
    update: async (tx, existing, data) => {
      await updateMapping(tx, existing.pm_uuid, data);
      const own: Record<string, unknown> = {};
      for (const c of cols) if (data[c] !== undefined) own[c] = data[c] ?? def.own[c]!.absent;
      if (Object.keys(own).length)
        await tx
          .updateTable(def.table as 'property_mapping_scope')
          .set(own)
          .where('pm_uuid', '=', existing.pm_uuid)
          .execute();
      return existing.pm_uuid;
    },
    ...mappingLifecycle(references),
  };
}

const scopeResource = (references: () => ColumnReference[]) =>
  ownTableMappingResource(
    {
      kind: 'scopemapping',
      table: 'property_mapping_scope',
      component: 'ScopeMapping',
      path: '/propertymappings/provider/scope',
      rbac: { label: 'authentik_providers_oauth2.scopemapping', verbose: 'Scope Mapping' },
      props: scopeProps,
      own: { scope_name: { absent: '' }, description: { absent: '' } },
      ordering: { name: 'm.name', scope_name: 's.scope_name', pk: 'm.pm_uuid' },
      defaultOrdering: ['scope_name', 'name'],
    },
    references,
  );

const samlProps: Props = {
  ...basePropertyMappingProps,
  saml_name: S.str({ title: 'SAML Name' }),
  friendly_name: S.nullable(S.text({ default: null })),
};

/** /propertymappings/provider/saml/: an attribute of the SAML provider's assertion */
const samlResource = (references: () => ColumnReference[]) =>
  ownTableMappingResource(
    {
      kind: 'samlpropertymapping',
      table: 'property_mapping_saml',
      component: 'SAMLPropertyMapping',
      path: '/propertymappings/provider/saml',
      rbac: { label: 'authentik_providers_saml.samlpropertymapping', verbose: 'SAML Provider Property Mapping' },
      props: samlProps,
      own: { saml_name: { absent: '' }, friendly_name: { absent: null } },
      ordering: { name: 'm.name', saml_name: 's.saml_name', pk: 'm.pm_uuid' },
      defaultOrdering: ['name'],
    },
    references,
  );

/**
 * A mapping kind with no table of its own (name and expression in `property_mappings`): authentik's
 * NotificationWebhookMappingViewSet (name and expression only) and OAuthSourcePropertyMappingViewSet (the base
 * fields; its expression sees `info`, `token`, `properties`: src/propertymappings/source.ts)
 */
const plainMappingResource = (
  def: {
    kind: string;
    /** `app_label.model` for RBAC */
    label: string;
    verbose: string;
    component: string;
    path: string;
    props: Props;
    render: (r: Row) => Record<string, unknown>;
    filters: Record<string, FilterSpec>;
  },
  references: () => ColumnReference[],
): ResourceDef<Row> => ({
  component: def.component,
  model: def.component,
  path: def.path,
  opPrefix: def.path.slice(1).replace(/\//g, '_'),
  tag: 'propertymappings',
  lookup: { param: 'pm_uuid', column: 'm.pm_uuid', rowKey: 'pm_uuid', type: 'uuid' },
  props: def.props,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: def.label, verbose: def.verbose },
  list: {
    filters: { ...def.filters, name: { type: 'str', column: 'm.name' } },
    search: ['m.name'],
    ordering: { name: 'm.name', pk: 'm.pm_uuid' },
    defaultOrdering: ['name'],
    pk: 'm.pm_uuid',
    unique: ['m.name'],
  },
  select: (db) =>
    db
      .selectFrom('property_mappings as m')
      .select(['m.pm_uuid as pk', 'm.pm_uuid', 'm.name', 'm.expression', 'm.managed', 'm.kind'])
      .where('m.kind', '=', def.kind),
  render: async (_db, rows) => rows.map(def.render),
  validate: async (data) => checkExpression(data.expression),
  insert: (tx, data) => insertMapping(tx, def.kind, data),
  update: async (tx, existing, data) => {
    await updateMapping(tx, existing.pm_uuid, data);
    return existing.pm_uuid;
  },
  ...mappingLifecycle(references),
});

const webhookResource = (references: () => ColumnReference[]) =>
  plainMappingResource(
    {
      kind: 'notificationwebhookmapping',
      label: 'authentik_events.notificationwebhookmapping',
      verbose: 'Webhook Mapping',
      component: 'NotificationWebhookMapping',
      path: '/propertymappings/notification',
      props: { pk: basePropertyMappingProps.pk!, name: basePropertyMappingProps.name!, expression: basePropertyMappingProps.expression! },
      render: (r) => ({ pk: r.pm_uuid, name: r.name, expression: r.expression }),
      filters: {},
    },
    references,
  );

/** a mapping kind with authentik's base fields (managed, name, expression, its meta) and no table of its own */
const baseMappingResource = (
  def: { kind: string; label: string; verbose: string; component: string; path: string },
  references: () => ColumnReference[],
) =>
  plainMappingResource(
    {
      ...def,
      props: basePropertyMappingProps,
      render: (r) => ({ pk: r.pm_uuid, managed: r.managed, name: r.name, expression: r.expression, ...metaOf(r.kind) }),
      filters: managedFilters,
    },
    references,
  );

/** /propertymappings/provider/scim/: what a SCIM provider writes for a user or a group (authentik's SCIMMappingViewSet) */
const scimProviderResource = (references: () => ColumnReference[]) =>
  baseMappingResource(
    {
      kind: 'scimmapping',
      label: 'authentik_providers_scim.scimmapping',
      verbose: 'SCIM Provider Mapping',
      component: 'SCIMMapping',
      path: '/propertymappings/provider/scim',
    },
    references,
  );

/** a source type's mappings (`/propertymappings/source/<type>/`): oauth, ldap, plex, saml, scim, telegram */
const sourceMappingResource = (type: 'oauth' | 'ldap' | 'saml' | 'scim' | 'telegram' | 'plex', references: () => ColumnReference[]) => {
  const kind = `${type}sourcepropertymapping`;
  const label = { oauth: 'OAuth', ldap: 'LDAP', saml: 'SAML', scim: 'SCIM', telegram: 'Telegram', plex: 'Plex' }[type];
  return baseMappingResource(
    {
      kind,
      label: `authentik_sources_${type}.${kind}`,
      verbose: `${label} Source Property Mapping`,
      component: `${label}SourcePropertyMapping`,
      path: `/propertymappings/source/${type}`,
    },
    references,
  );
};

const allResource = (references: () => ColumnReference[]): ResourceDef<Row> => ({
  component: 'PropertyMapping',
  model: 'PropertyMapping',
  path: '/propertymappings/all',
  opPrefix: 'propertymappings_all',
  tag: 'propertymappings',
  lookup: { param: 'pm_uuid', column: 'm.pm_uuid', rowKey: 'pm_uuid', type: 'uuid' },
  props: {
    ...basePropertyMappingProps,
    managed: S.ro(basePropertyMappingProps.managed!),
    name: S.ro(S.text()),
    expression: S.ro(S.text()),
  },
  ops: ['list', 'retrieve', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_core.propertymapping', verbose: 'Property Mapping' },
  list: {
    filters: { ...managedFilters, name: { type: 'str', column: 'm.name' } },
    search: ['m.name'],
    ordering: { name: 'm.name', pk: 'm.pm_uuid' },
    defaultOrdering: ['name'],
    pk: 'm.pm_uuid',
    unique: ['m.name'],
  },
  select: (db) =>
    db.selectFrom('property_mappings as m').select(['m.pm_uuid as pk', 'm.pm_uuid', 'm.name', 'm.expression', 'm.managed', 'm.kind']),
  render: async (_db, rows) =>
    rows.map((r) => ({ pk: r.pm_uuid, managed: r.managed, name: r.name, expression: r.expression, ...metaOf(r.kind) })),
  ...mappingLifecycle(references),
});

const testProps: Props = {
  user: S.nullable(S.intFk({ table: 'users', column: 'id' }, { default: null })),
  context: S.obj({ default: {} }),
  group: S.fk({ table: 'groups', column: 'group_uuid' }, { default: null }),
};

/** Python's json.dumps (ensure_ascii, `, ` and `: `, or indent=4) of a JSON value */
export function pyJsonDumps(v: unknown, indent?: number, level = 0): string {
  const esc = (s: string) => JSON.stringify(s).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return esc(v);
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : JSON.stringify(v);
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  const pad = (n: number) => (indent === undefined ? '' : `\n${' '.repeat(indent * n)}`);
  const sep = indent === undefined ? ', ' : ',';
  if (Array.isArray(v)) {
    if (!v.length) return '[]';
    return `[${pad(level + 1)}${v.map((x) => pyJsonDumps(x, indent, level + 1)).join(sep + pad(level + 1))}${pad(level)}]`;
  }
  const entries = Object.entries(v as Record<string, unknown>);
  if (!entries.length) return '{}';
  return `{${pad(level + 1)}${entries.map(([k, x]) => `${esc(k)}: ${pyJsonDumps(x, indent, level + 1)}`).join(sep + pad(level + 1))}${pad(level)}}`;
}

/** a group as mappings see it */
async function mappingGroupOf(svc: Services, uuid: string) {
  const g = await svc.db.selectFrom('groups').selectAll().where('group_uuid', '=', uuid).executeTakeFirstOrThrow();
  return {
    pk: g.group_uuid,
    group_uuid: g.group_uuid,
    num_pk: g.num_pk,
    name: g.name,
    is_superuser: Boolean(g.is_superuser),
    attributes: JSON.parse(g.attributes || '{}') as unknown,
  };
}

/**
 * authentik's view_propertymapping on the mapping (the caller's `load`); Keystage also asks view_user on the user and
 * view_group on the group
 */
async function testMapping(req: FastifyRequest, svc: Services, row: Row, caller: Caller) {
  const data = await validateBody(testProps, req.body, { mode: 'create', db: svc.db });
  if (data.user !== null && data.user !== undefined && !(await can(svc.db, caller, 'authentik_core.view_user', data.user as number)))
    throw ValidationError.field('user', `Invalid pk "${data.user}" - object does not exist.`);
  const q = req.query as Record<string, string | string[] | undefined>;
  const fr = lastValue(q.format_result);
  const format = String(fr ?? 'false').toLowerCase() === 'true';
  if (data.group !== null && data.group !== undefined && !(await can(svc.db, caller, 'authentik_core.view_group', data.group as string)))
    throw ValidationError.field('group', `Invalid pk "${data.group}" - object does not exist.`);
  const user = data.user === null || data.user === undefined ? undefined : await userById(svc.db, data.user as number);
  // the group, as a group mapping sees it (`group.name`, `group.attributes`, …)
  const group = data.group ? await mappingGroupOf(svc, data.group as string) : undefined;
  const r = await runMapping(
    svc,
    row,
    { user: user as never, request: req, provider: { id: 0, name: '', application: null } },
    30_000,
    { ...((data.context as Record<string, unknown>) ?? {}), ...(group ? { group } : {}) },
    true,
  );
  if (!r.ok) return { result: r.error, successful: false };
  return { result: pyJsonDumps(r.value, format ? 4 : undefined), successful: true };
}

export function mountPropertyMappings(router: ApiRouter, svc: Services, opts: { references?: () => ColumnReference[] } = {}) {
  const references = opts.references ?? (() => []);
  router.route('/propertymappings/all/types', {
    get: {
      doc: {
        operationId: 'propertymappings_all_types_list',
        tag: 'propertymappings',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        // any logged-in caller, as authentik's TypesMixin
        requireCaller(req);
        return Object.entries(KINDS).map(([kind, k]) => ({
          name: k.verbose,
          description: k.description,
          component: k.component,
          model_name: kind,
          requires_enterprise: false,
          deprecated: false,
        }));
      },
    },
  });
  const { load } = mountResource(router, svc.db, allResource(references));
  mountResource(router, svc.db, scopeResource(references));
  mountResource(router, svc.db, samlResource(references));
  mountResource(router, svc.db, webhookResource(references));
  mountResource(router, svc.db, scimProviderResource(references));
  for (const type of ['oauth', 'ldap', 'plex', 'saml', 'scim', 'telegram'] as const)
    mountResource(router, svc.db, sourceMappingResource(type, references));
  router.route(
    '/propertymappings/all/{pm_uuid}/test',
    {
      post: {
        doc: {
          operationId: 'propertymappings_all_test_create',
          tag: 'propertymappings',
          query: [{ name: 'format_result', schema: { type: 'boolean' } }],
          body: 'PropertyMappingTestRequest',
          response: 'PropertyMappingTestResult',
        },
        handler: async (req) => {
          const { row, caller } = await load(req, 'view');
          return testMapping(req, svc, row, caller);
        },
      },
    },
    [{ name: 'pm_uuid', schema: { type: 'string', format: 'uuid' } }],
  );
  router.component('PropertyMappingTestRequest', {
    type: 'object',
    description: 'Test property mapping execution for a user/group with context',
    properties: {
      user: { type: 'integer', nullable: true },
      context: { type: 'object', additionalProperties: {} },
      group: { type: 'string', format: 'uuid', nullable: true },
    },
  });
  router.component('PropertyMappingTestResult', {
    type: 'object',
    description: 'Result of a Property-mapping test',
    properties: { result: { type: 'string', readOnly: true }, successful: { type: 'boolean', readOnly: true } },
    required: ['result', 'successful'],
  });
}
