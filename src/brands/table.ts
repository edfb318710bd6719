/** The brand tables (migration 0017_brands). */

export interface BrandsTable {
  brand_uuid: string;
  domain: string;
  /** 0/1 */
  default: number;
  branding_title: string;
  branding_logo: string;
  branding_favicon: string;
  branding_custom_css: string;
  branding_default_flow_background: string;
  branding_map_tiles: string;
  flow_authentication: string | null;
  flow_invalidation: string | null;
  flow_recovery: string | null;
  flow_unenrollment: string | null;
  flow_user_settings: string | null;
  flow_device_code: string | null;
  flow_lockdown: string | null;
  flow_request: string | null;
  flow_user_switch: string | null;
  /** an application's pbm_uuid; no foreign key (see the migration) */
  default_application: string | null;
  web_certificate: string | null;
  /** JSON object */
  attributes: string;
}

export interface BrandClientCertificatesTable {
  brand_uuid: string;
  kp_uuid: string;
}

declare module '../db/types.js' {
  interface Database {
    brands: BrandsTable;
    brand_client_certificates: BrandClientCertificatesTable;
  }
}
