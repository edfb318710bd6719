import { sql, type Kysely } from 'kysely';
import { addColumns, fk, type VersionedMigration } from '../ddl.js';

/**
 * Brands (authentik's `Brand`): which title, logo, favicon, custom CSS, default flow background and default flows a
 * request gets, chosen by the domain it was made to (src/brands/match.ts). A configuration table: its writes move the
 * configuration epoch (config-epoch.ts), so every node applies a change at once.
 *
 * `default_application` references an application (migration 0015_applications) by its `pbm_uuid`; deleting the
 * application unsets it (authentik: SET_DEFAULT, whose default is null).
 *
 * The default brand is not created here but at start (src/brands/store.ts `ensureDefaultBrand`), like authentik's
 * blueprint, once the default flows exist to point it at.
 */
export const m0017_brands: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    const flow = () => fk('flows', 'flow_uuid');
    await addColumns(
      db.schema.createTable('brands').addColumn('brand_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        domain: 'text',
        default: 'bool',
        branding_title: 'text',
        branding_logo: 'text',
        branding_favicon: 'text',
        branding_custom_css: 'text',
        branding_default_flow_background: 'text',
        branding_map_tiles: 'text',
        flow_authentication: flow(),
        flow_invalidation: flow(),
        flow_recovery: flow(),
        flow_unenrollment: flow(),
        flow_user_settings: flow(),
        flow_device_code: flow(),
        flow_lockdown: flow(),
        flow_request: flow(),
        flow_user_switch: flow(),
        default_application: fk('applications', 'pbm_uuid'),
        web_certificate: fk('crypto_certificatekeypairs', 'kp_uuid'),
        attributes: 'json',
      },
    ).execute();
    // authentik checks both in its serializer only; here the database holds them too (the API checks first, inside
    // the write's transaction, so a client sees authentik's 400 and never a constraint error)
    await db.schema.createIndex('brands_domain').on('brands').column('domain').unique().execute();
    await db.schema.createIndex('brands_default').on('brands').column('default').unique().where(sql.ref('default'), '=', 1).execute();
    // authentik's `client_certificates` (BrandClientCertificate): deleting either side deletes the link
    await db.schema
      .createTable('brand_client_certificates')
      .addColumn('brand_uuid', 'text', (c) => c.notNull().references('brands.brand_uuid').onDelete('cascade'))
      .addColumn('kp_uuid', 'text', (c) => c.notNull().references('crypto_certificatekeypairs.kp_uuid').onDelete('cascade'))
      .addPrimaryKeyConstraint('brand_client_certificates_pk', ['brand_uuid', 'kp_uuid'])
      .execute();
    await db.schema.createIndex('brand_client_certificates_kp').on('brand_client_certificates').column('kp_uuid').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('brand_client_certificates').ifExists().execute();
    await db.schema.dropIndex('brands_default').ifExists().execute();
    await db.schema.dropIndex('brands_domain').ifExists().execute();
    await db.schema.dropTable('brands').ifExists().execute();
  },
});
