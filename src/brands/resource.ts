/** /core/brands/ as a REST resource: authentik's BrandViewSet (fields, filters, search, ordering, validation). */
import type { ColumnReference } from '../rest/references.js';
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { ResourceDef, UsedBy } from '../rest/resource.js';
import type { DB } from '../db/index.js';
import type { FilterSpec } from '../rest/list.js';
import { searchTerms } from '../rest/list.js';
import { rowToApi } from '../rest/serialize.js';
import { ValidationError, type FieldErrors } from '../rest/errors.js';
import type { BrandsTable } from './table.js';
import { brandProps, FLOW_FIELDS } from './schema.js';
import { fileNameError } from '../files/names.js';
import { checkBrandRules, deleteBrand, insertBrand, updateBrand } from './store.js';

type Row = BrandsTable;
type EB = ExpressionBuilder<any, any>;

const flowRef = { table: 'flows', column: 'flow_uuid' };
const kpRef = { table: 'crypto_certificatekeypairs', column: 'kp_uuid' };

/** authentik's `filterset_fields` */
export const brandFilters: Record<string, FilterSpec> = {
  brand_uuid: { type: 'uuid', column: 'brands.brand_uuid' },
  domain: { type: 'str', column: 'brands.domain' },
  default: { type: 'bool', column: 'brands.default' },
  branding_title: { type: 'str', column: 'brands.branding_title' },
  branding_logo: { type: 'str', column: 'brands.branding_logo' },
  branding_favicon: { type: 'str', column: 'brands.branding_favicon' },
  branding_default_flow_background: { type: 'str', column: 'brands.branding_default_flow_background' },
  ...Object.fromEntries(FLOW_FIELDS.map((f) => [f, { type: 'fk', column: `brands.${f}`, ref: flowRef } satisfies FilterSpec])),
  web_certificate: { type: 'fk', column: 'brands.web_certificate', ref: kpRef },
  client_certificates: {
    type: 'm2m',
    ref: kpRef,
    exists: (eb, ids) =>
      eb.exists(
        eb
          .selectFrom('brand_client_certificates as c')
          .select(sql`1`.as('one'))
          .whereRef('c.brand_uuid', '=', 'brands.brand_uuid')
          .where('c.kp_uuid', 'in', ids as string[]),
      ),
  },
};

const likeEscape = (s: string) => s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * authentik's `search_fields = ["domain", "branding_title", "web_certificate__name", "client_certificates__name"]`:
 * every term found, case-insensitively, in one of them
 */
export function brandSearch(search: string, dialect: 'sqlite' | 'postgres') {
  const terms = searchTerms(search);
  if (!terms.length) return undefined;
  const op = dialect === 'postgres' ? sql`ilike` : sql`like`;
  return (_eb: EB): Expression<SqlBool> =>
    sql<SqlBool>`(${sql.join(
      terms.map((term) => {
        const pat = `%${likeEscape(term)}%`;
        return sql`(brands.domain ${op} ${pat} escape '\\'
          or brands.branding_title ${op} ${pat} escape '\\'
          or exists (select 1 from crypto_certificatekeypairs k where k.kp_uuid = brands.web_certificate and k.name ${op} ${pat} escape '\\')
          or exists (select 1 from brand_client_certificates c join crypto_certificatekeypairs k on k.kp_uuid = c.kp_uuid
                     where c.brand_uuid = brands.brand_uuid and k.name ${op} ${pat} escape '\\'))`;
      }),
      sql` and `,
    )})`;
}

async function clientCertificatesOf(db: DB, brands: string[]): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  if (!brands.length) return out;
  const rows = await db
    .selectFrom('brand_client_certificates')
    .select(['brand_uuid', 'kp_uuid'])
    .where('brand_uuid', 'in', brands)
    .orderBy('kp_uuid')
    .execute();
  for (const r of rows) out.set(r.brand_uuid, [...(out.get(r.brand_uuid) ?? []), r.kp_uuid]);
  return out;
}

export async function renderBrands(db: DB, rows: Row[]): Promise<Record<string, unknown>[]> {
  const certs = await clientCertificatesOf(
    db,
    rows.map((r) => r.brand_uuid),
  );
  return rows.map((r) => ({ ...rowToApi(brandProps, r), client_certificates: certs.get(r.brand_uuid) ?? [] }));
}

/** authentik's `str(brand)` */
/** the brands' references to certificate-key pairs (their used_by; `web_certificate` set to null with the pair, links removed) */
export const brandKeyPairReferences = (): ColumnReference[] => [
  {
    table: 'brands',
    column: 'web_certificate',
    pk: 'brand_uuid',
    name: 'domain',
    app: 'authentik_brands',
    model_name: 'brand',
    action: 'set_null',
  },
  {
    table: 'brand_client_certificates',
    column: 'kp_uuid',
    pk: 'brand_uuid',
    name: 'domain',
    nameFrom: { table: 'brands', key: 'brand_uuid' },
    app: 'authentik_brands',
    model_name: 'brand',
    action: 'cascade_many',
  },
];

export const brandName = (b: { default: number | boolean; domain: string }) =>
  Number(b.default) === 1 ? 'Default brand' : `Brand ${b.domain}`;

/** the brand's image fields, which may name an uploaded file (the files' `used_by`, src/files/) */
export const brandFileReferences = (): ColumnReference[] =>
  (['branding_logo', 'branding_favicon', 'branding_default_flow_background'] as const).map((column) => ({
    table: 'brands',
    column,
    pk: 'brand_uuid',
    name: 'domain',
    label: { columns: ['default', 'domain'], show: (r) => brandName(r as { default: number; domain: string }) },
    app: 'authentik_brands',
    model_name: 'brand',
    action: 'left_dangling',
  }));

/** the brands naming a flow in one of their flow fields: a flow's `used_by` (deleting the flow unsets them) */
export async function brandsUsingFlow(db: DB, flowUuid: string): Promise<UsedBy[]> {
  const rows = await db
    .selectFrom('brands')
    .select(['brand_uuid', 'domain', 'default'])
    .where((eb) => eb.or(FLOW_FIELDS.map((f) => eb(f, '=', flowUuid))))
    .orderBy('domain')
    .execute();
  return rows.map((b) => ({ app: 'authentik_brands', model_name: 'brand', pk: b.brand_uuid, name: brandName(b), action: 'set_null' }));
}

const ASSET_FIELDS = ['branding_logo', 'branding_favicon', 'branding_default_flow_background'] as const;

export function brandResource(): ResourceDef<Row> {
  return {
    component: 'Brand',
    model: 'Brand',
    path: '/core/brands',
    opPrefix: 'core_brands',
    tag: 'core',
    lookup: { param: 'brand_uuid', column: 'brands.brand_uuid', rowKey: 'brand_uuid', type: 'uuid' },
    props: brandProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    // authentik's brand permissions, through roles (src/rbac/)
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_brands.brand', verbose: 'Brand' },
    list: {
      filters: brandFilters,
      search: ['brands.domain', 'brands.branding_title'],
      searchQuery: brandSearch,
      // DRF's OrderingFilter without `ordering_fields`: any of the serializer's model fields
      ordering: {
        brand_uuid: 'brands.brand_uuid',
        domain: 'brands.domain',
        default: 'brands.default',
        branding_title: 'brands.branding_title',
        branding_logo: 'brands.branding_logo',
        branding_favicon: 'brands.branding_favicon',
        branding_custom_css: 'brands.branding_custom_css',
        branding_default_flow_background: 'brands.branding_default_flow_background',
        branding_map_tiles: 'brands.branding_map_tiles',
        ...Object.fromEntries(FLOW_FIELDS.map((f) => [f, `brands.${f}`])),
        default_application: 'brands.default_application',
        web_certificate: 'brands.web_certificate',
      },
      defaultOrdering: ['domain'],
      pk: 'brands.brand_uuid',
      unique: ['brands.domain'],
      cacheCount: true,
    },
    select: (db) => db.selectFrom('brands').selectAll('brands'),
    render: (db, rows) => renderBrands(db, rows),
    validate: async (data, ctx, existing) => {
      const errors: FieldErrors = {};
      for (const f of ASSET_FIELDS) {
        const v = data[f];
        const msg = typeof v === 'string' ? fileNameError(v) : undefined;
        if (msg) errors[f] = [msg];
      }
      if (Object.keys(errors).length) throw new ValidationError(errors);
      // (checked again inside the write's transaction: store.ts)
      await checkBrandRules(ctx.db, data, existing?.brand_uuid);
    },
    insert: (tx, data) => insertBrand(tx, data),
    update: (tx, existing, data) => updateBrand(tx, existing.brand_uuid, data),
    remove: (tx, existing) => deleteBrand(tx, existing.brand_uuid),
    // nothing refers to a brand (its policy bindings come with RBAC's brand policies, which Keystage lacks)
    usedBy: async () => [],
  };
}
