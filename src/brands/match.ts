/**
 * The brand of a request, as authentik's `get_brand_for_request`: among the brands whose `domain` is the request's
 * host or a parent domain of it (`b.c` for `a.b.c`, never for `ab.c`; case-insensitive), the longest; on a tie the
 * default brand; with no match the default brand; with no brands at all a built-in fallback.
 *
 * The host is the one Fastify resolved: `X-Forwarded-Host` counts only from a proxy in KEYSTAGE_TRUSTED_PROXIES,
 * otherwise the client's own `Host` header. A client choosing its Host picks only among the brands an administrator
 * made — titles and which flows its own requests start — so nothing it chooses reaches another person. (Links sent
 * to others, e.g. in e-mails, must not be built from a request's host: see README, "Brands".)
 *
 * Brands are few and read on every flow request: all of them are kept by the admin cache (src/db/admin-cache.ts)
 * with their flows' slugs, and matched in memory.
 */
import type { SystemSettings } from '../instance/system-settings/store.js';
import type { DB } from '../db/index.js';
import { cachedAdminData } from '../db/admin-cache.js';
import type { BrandsTable } from './table.js';
import { DEFAULT_FAVICON, DEFAULT_FLOW_BACKGROUND, DEFAULT_LOGO, DEFAULT_TITLE, FLOW_FIELDS, type FlowField } from './schema.js';
import { assetUrl, themedAssetUrls } from '../files/names.js';

/** a brand as its readers use it */
export interface Brand {
  brand_uuid: string | null;
  domain: string;
  default: boolean;
  branding_title: string;
  branding_logo: string;
  branding_favicon: string;
  branding_custom_css: string;
  branding_default_flow_background: string;
  branding_map_tiles: string;
  /** the flow fields' UUIDs (null: unset) */
  flows: Record<FlowField, string | null>;
  /** the same flows' slugs, for those set */
  flowSlugs: Partial<Record<FlowField, string>>;
  default_application: string | null;
  attributes: Record<string, unknown>;
  /** the pair served on KEYSTAGE_TLS_PORT for this brand's domain (src/instance/tls/) */
  web_certificate: string | null;
  /** the certificate authorities of client certificates (the mutual TLS stage's fallback, the TLS listener's request) */
  client_certificates: string[];
}

const noFlows = () => Object.fromEntries(FLOW_FIELDS.map((f) => [f, null])) as Record<FlowField, string | null>;

/** authentik's `DEFAULT_BRAND = Brand(domain="fallback")`, titled for Keystage: what a request gets with no brands at all */
export const FALLBACK_BRAND: Brand = Object.freeze({
  brand_uuid: null,
  domain: 'fallback',
  default: false,
  branding_title: DEFAULT_TITLE,
  branding_logo: DEFAULT_LOGO,
  branding_favicon: DEFAULT_FAVICON,
  branding_custom_css: '',
  branding_default_flow_background: DEFAULT_FLOW_BACKGROUND,
  branding_map_tiles: '',
  flows: Object.freeze(noFlows()),
  flowSlugs: Object.freeze({}),
  default_application: null,
  attributes: Object.freeze({}),
  web_certificate: null,
  client_certificates: Object.freeze([]) as unknown as string[],
});

function parseAttributes(text: string): Record<string, unknown> {
  try {
    const v = JSON.parse(text || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
}

async function loadBrands(db: DB): Promise<Brand[]> {
  const rows = (await db.selectFrom('brands').selectAll().execute()) as BrandsTable[];
  const flowIds = [...new Set(rows.flatMap((r) => FLOW_FIELDS.map((f) => r[f]).filter((v): v is string => !!v)))];
  const slugs = new Map<string, string>();
  if (flowIds.length)
    for (const f of await db.selectFrom('flows').select(['flow_uuid', 'slug']).where('flow_uuid', 'in', flowIds).execute())
      slugs.set(f.flow_uuid, f.slug);
  const clientCerts = new Map<string, string[]>();
  for (const c of await db.selectFrom('brand_client_certificates').select(['brand_uuid', 'kp_uuid']).execute())
    clientCerts.set(c.brand_uuid, [...(clientCerts.get(c.brand_uuid) ?? []), c.kp_uuid]);
  return rows.map((r) => {
    const flows = noFlows();
    const flowSlugs: Partial<Record<FlowField, string>> = {};
    for (const f of FLOW_FIELDS) {
      flows[f] = r[f];
      const slug = r[f] ? slugs.get(r[f]) : undefined;
      if (slug) flowSlugs[f] = slug;
    }
    return {
      brand_uuid: r.brand_uuid,
      domain: r.domain,
      default: Number(r.default) === 1,
      branding_title: r.branding_title,
      branding_logo: r.branding_logo,
      branding_favicon: r.branding_favicon,
      branding_custom_css: r.branding_custom_css,
      branding_default_flow_background: r.branding_default_flow_background,
      branding_map_tiles: r.branding_map_tiles,
      flows,
      flowSlugs,
      default_application: r.default_application,
      attributes: parseAttributes(r.attributes),
      web_certificate: r.web_certificate,
      client_certificates: clientCerts.get(r.brand_uuid) ?? [],
    };
  });
}

/** every brand, kept until the next configuration change */
export const allBrands = (db: DB): Promise<readonly Brand[]> => cachedAdminData(db, 'brands', () => loadBrands(db));

/** whether `domain` is `host` or a parent domain of it (authentik: iexact, or iendswith "." + domain) */
function matches(host: string, domain: string): boolean {
  const d = domain.toLowerCase();
  return d !== '' && (host === d || host.endsWith(`.${d}`));
}

/**
 * The brand for a host as Fastify resolved it (`req.host`, which may carry a port). A domain is compared with the
 * host as sent and with its name alone, so `example.com` serves `example.com:9000` (Django compares the host with its
 * port, which no real brand domain has).
 */
export function matchBrand(brands: readonly Brand[], host: string | undefined): Brand {
  const withPort = (host ?? '').trim().toLowerCase();
  const name = withPort.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  let best: Brand | undefined;
  let bestLength = -1;
  let fallback: Brand | undefined;
  for (const b of brands) {
    if (b.default) fallback ??= b;
    if (!matches(withPort, b.domain) && !matches(name, b.domain)) continue;
    const length = b.domain.length;
    if (length > bestLength || (length === bestLength && b.default && !best?.default)) {
      best = b;
      bestLength = length;
    }
  }
  return best ?? fallback ?? FALLBACK_BRAND;
}

/** the brand per host, for as long as the brands themselves are kept (a new list: a new memo) */
const matched = new WeakMap<readonly Brand[], Map<string, Brand>>();

export async function brandForHost(db: DB, host: string | undefined): Promise<Brand> {
  const brands = await allBrands(db);
  let byHost = matched.get(brands);
  if (!byHost) matched.set(brands, (byHost = new Map()));
  const key = host ?? '';
  let brand = byHost.get(key);
  if (!brand) {
    brand = matchBrand(brands, host);
    // hosts are chosen by clients: a bounded memo
    if (byHost.size >= 1024) byHost.clear();
    byHost.set(key, brand);
  }
  return brand;
}

/**
 * a brand as an event records it (authentik's Event.brand: `sanitize_dict(model_to_dict(brand))` — its fields, UUIDs
 * as hex, the client certificates as references without their names); `{}` for the fallback of an install without
 * brands
 */
export function eventBrand(b: Brand): Record<string, unknown> {
  if (!b.brand_uuid) return {};
  const hex = (u: string | null) => (u ? u.replaceAll('-', '') : null);
  return {
    brand_uuid: hex(b.brand_uuid),
    domain: b.domain,
    default: b.default,
    branding_title: b.branding_title,
    branding_logo: b.branding_logo,
    branding_favicon: b.branding_favicon,
    branding_custom_css: b.branding_custom_css,
    branding_default_flow_background: b.branding_default_flow_background,
    branding_map_tiles: b.branding_map_tiles,
    ...Object.fromEntries(FLOW_FIELDS.map((f) => [f, hex(b.flows[f])])),
    default_application: hex(b.default_application),
    web_certificate: hex(b.web_certificate),
    client_certificates: b.client_certificates.map((pk) => ({ pk: hex(pk), app: 'authentik_crypto', model_name: 'certificatekeypair' })),
    attributes: b.attributes,
  };
}

export type UiTheme = 'light' | 'dark' | 'automatic';

/** the theme a `settings` object names (authentik's UI config `theme.base`), if it names one */
export function themeBaseOf(settings: unknown): UiTheme | undefined {
  const theme = (settings as Record<string, any> | null | undefined)?.theme?.base;
  return theme === 'light' || theme === 'dark' || theme === 'automatic' ? theme : undefined;
}

/** the brand's UI theme (authentik's `attributes.settings.theme.base`): light, dark, or automatic (the system's) */
export function uiThemeOf(brand: Pick<Brand, 'attributes'>): UiTheme {
  return themeBaseOf(brand.attributes.settings) ?? 'automatic';
}

/** authentik's CurrentBrandSerializer */
export function currentBrand(brand: Brand, system: Pick<SystemSettings, 'footer_links' | 'flags'>): Record<string, unknown> {
  const settings = (brand.attributes.settings ?? {}) as Record<string, any>;
  const locale = settings?.locale;
  return {
    matched_domain: brand.domain,
    branding_title: brand.branding_title,
    branding_logo: assetUrl(brand.branding_logo),
    branding_logo_themed_urls: themedAssetUrls(brand.branding_logo),
    branding_favicon: assetUrl(brand.branding_favicon),
    branding_favicon_themed_urls: themedAssetUrls(brand.branding_favicon),
    branding_custom_css: brand.branding_custom_css,
    branding_map_tiles: brand.branding_map_tiles,
    // authentik: the tenant's footer links (the system settings')
    ui_footer_links: system.footer_links,
    ui_theme: uiThemeOf(brand),
    // an unset flow is left out (DRF's `required=False` field whose source is None)
    ...brand.flowSlugs,
    default_locale: typeof locale === 'string' ? locale : '',
    // authentik's public tenant flags (the system settings')
    flags: { flows_continuous_login: system.flags.flows_continuous_login, flows_refresh_others: system.flags.flows_refresh_others },
  };
}

/** the default flow background of a brand as a URL (a flow without a background of its own shows it) */
export const brandBackgroundUrl = (brand: Brand): string => assetUrl(brand.branding_default_flow_background);
