/**
 * Brand writes, each inside the caller's transaction (the REST resource's, or the start-up's): the row, its client
 * certificates, and authentik's two serializer rules checked again under the transaction's lock so that racing writes
 * get authentik's 400 rather than the database's constraint error.
 */
import { newPk } from '../rest/requested-pk.js';
import type { DB } from '../db/index.js';
import type { Tx } from '../rest/resource.js';
import { apiToRow } from '../rest/serialize.js';
import { ValidationError } from '../rest/errors.js';
import { lockConfigEpoch } from '../db/config-epoch.js';
import { brandProps, DEFAULT_BRAND_DOMAIN, DEFAULT_FAVICON, DEFAULT_FLOW_BACKGROUND, DEFAULT_LOGO, DEFAULT_TITLE } from './schema.js';

export const SINGLE_DEFAULT = 'Only a single brand can be set as default.';

/** authentik's BrandSerializer.validate (one default brand) and the domain's UniqueValidator */
export async function checkBrandRules(db: DB | Tx, data: Record<string, unknown>, self?: string): Promise<void> {
  if (data.default === true) {
    let q = db.selectFrom('brands').select('brand_uuid').where('default', '=', 1);
    if (self) q = q.where('brand_uuid', '<>', self);
    if (await q.executeTakeFirst()) throw new ValidationError({ default: [SINGLE_DEFAULT] });
  }
  if (typeof data.domain === 'string') {
    let q = db.selectFrom('brands').select('brand_uuid').where('domain', '=', data.domain);
    if (self) q = q.where('brand_uuid', '<>', self);
    if (await q.executeTakeFirst()) throw new ValidationError({ domain: ['This field must be unique.'] });
  }
}

async function setClientCertificates(tx: Tx, brand: string, ids: string[]): Promise<void> {
  await tx.deleteFrom('brand_client_certificates').where('brand_uuid', '=', brand).execute();
  const unique = [...new Set(ids)];
  if (unique.length)
    await tx
      .insertInto('brand_client_certificates')
      .values(unique.map((kp_uuid) => ({ brand_uuid: brand, kp_uuid })))
      .execute();
}

export async function insertBrand(tx: Tx, data: Record<string, unknown>): Promise<string> {
  await checkBrandRules(tx, data);
  const brand_uuid = newPk();
  await tx
    .insertInto('brands')
    .values({ ...apiToRow(brandProps, data), brand_uuid } as never)
    .execute();
  await setClientCertificates(tx, brand_uuid, (data.client_certificates as string[] | undefined) ?? []);
  return brand_uuid;
}

export async function updateBrand(tx: Tx, brand: string, data: Record<string, unknown>): Promise<string> {
  await checkBrandRules(tx, data, brand);
  const row = apiToRow(brandProps, data);
  if (Object.keys(row).length)
    await tx
      .updateTable('brands')
      .set(row as never)
      .where('brand_uuid', '=', brand)
      .execute();
  if (data.client_certificates !== undefined) await setClientCertificates(tx, brand, data.client_certificates as string[]);
  return brand;
}

export async function deleteBrand(tx: Tx, brand: string): Promise<void> {
  await tx.deleteFrom('brands').where('brand_uuid', '=', brand).execute();
}

/**
 * authentik's default-brand blueprint (`state: created`): unless a default brand, or a brand of the default brand's
 * domain, exists, one is made — titled "Keystage", pointed at the default authentication, invalidation,
 * user-settings, recovery and (a Keystage addition) unenrollment flows where they exist. Runs at every start after the default flows; nodes starting together take
 * turns (the configuration epoch's row lock, PostgreSQL) so only one creates it. `makeDefault` is
 * AUTHENTIK_DEFAULT_BRAND_ENABLED.
 */
export async function ensureDefaultBrand(db: DB, makeDefault = true): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await lockConfigEpoch(tx);
    const existing = await tx
      .selectFrom('brands')
      .select('brand_uuid')
      .where((eb) => eb.or([eb('default', '=', 1), eb('domain', '=', DEFAULT_BRAND_DOMAIN)]))
      .executeTakeFirst();
    if (existing) return;
    const flowOf = async (slug: string) =>
      (await tx.selectFrom('flows').select('flow_uuid').where('slug', '=', slug).executeTakeFirst())?.flow_uuid ?? null;
    await insertBrand(tx, {
      domain: DEFAULT_BRAND_DOMAIN,
      default: makeDefault,
      branding_title: DEFAULT_TITLE,
      branding_logo: DEFAULT_LOGO,
      branding_favicon: DEFAULT_FAVICON,
      branding_custom_css: '',
      branding_default_flow_background: DEFAULT_FLOW_BACKGROUND,
      branding_map_tiles: '',
      flow_authentication: await flowOf('default-authentication-flow'),
      flow_invalidation: await flowOf('default-invalidation-flow'),
      flow_recovery: await flowOf('default-recovery-flow'),
      flow_unenrollment: await flowOf('default-unenrollment-flow'),
      flow_user_settings: await flowOf('default-user-settings-flow'),
      flow_device_code: null,
      flow_lockdown: null,
      flow_request: null,
      flow_user_switch: null,
      default_application: null,
      web_certificate: null,
      client_certificates: [],
      attributes: {},
    });
  });
}
