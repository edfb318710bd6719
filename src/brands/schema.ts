/** The brand model as the API shows it: authentik's BrandSerializer fields and defaults, and CurrentBrand. */
import { S, type Props } from '../rest/schema.js';

/** authentik's defaults for the three images, served by src/ui/routes.ts */
export const DEFAULT_LOGO = '/static/dist/assets/icons/icon_left_brand.svg';
export const DEFAULT_FAVICON = '/static/dist/assets/icons/icon.png';
export const DEFAULT_FLOW_BACKGROUND = '/static/dist/assets/images/flow_background.jpg';
/** the title of a brand created without one, and of the built-in fallback (authentik's model default says "authentik") */
export const DEFAULT_TITLE = 'Keystage';
/** the seeded default brand's domain: authentik's, so that its blueprints and scripts find it by the same identifier */
export const DEFAULT_BRAND_DOMAIN = 'authentik-default';

/** the brand's flow fields, in authentik's order */
export const FLOW_FIELDS = [
  'flow_authentication',
  'flow_invalidation',
  'flow_recovery',
  'flow_unenrollment',
  'flow_user_settings',
  'flow_device_code',
  'flow_lockdown',
  'flow_request',
  'flow_user_switch',
] as const;
export type FlowField = (typeof FLOW_FIELDS)[number];

const flowFk = () => S.fk({ table: 'flows', column: 'flow_uuid' });
const MAP_TILES =
  'URL template for the vector tile source used by the events map. Supports XYZ templates with {z}, {x} and {y} placeholders, or pmtiles:// archive URLs. When empty, the frontend uses the bundled hexworld basemap. This value is part of the brand information served to unauthenticated clients; do not embed API keys or other credentials in it.';

export const brandProps: Props = {
  brand_uuid: S.ro(S.uuid()),
  domain: S.str({
    description: 'Domain that activates this brand. Can be a superset, i.e. `a.b` for `aa.b` and `ba.b`',
    // DRF's UniqueValidator (authentik declares it on the serializer; Keystage's table has the index too)
    'x-unique': { table: 'brands', column: 'domain', self: 'brand_uuid', message: 'This field must be unique.' },
  }),
  default: S.bool({ default: false }),
  branding_title: S.str({ default: DEFAULT_TITLE }),
  branding_logo: S.str({ default: DEFAULT_LOGO }),
  branding_favicon: S.str({ default: DEFAULT_FAVICON }),
  branding_custom_css: S.text({ default: '' }),
  branding_default_flow_background: S.str({ default: DEFAULT_FLOW_BACKGROUND }),
  branding_map_tiles: S.text({ default: '', description: MAP_TILES }),
  flow_authentication: flowFk(),
  flow_invalidation: flowFk(),
  flow_recovery: flowFk(),
  flow_unenrollment: flowFk(),
  flow_user_settings: flowFk(),
  flow_device_code: flowFk(),
  flow_lockdown: flowFk(),
  flow_request: flowFk(),
  flow_user_switch: flowFk(),
  default_application: S.fk(
    { table: 'applications', column: 'pbm_uuid' },
    { description: 'When set, external users will be redirected to this application after authenticating.' },
  ),
  web_certificate: S.fk(
    { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
    { description: 'Web Certificate used by the authentik Core webserver.' },
  ),
  client_certificates: S.m2m(
    { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
    { default: [], 'x-m2m-table': true, description: 'Certificates used for client authentication.' },
  ),
  attributes: S.obj({ default: {} }),
};

const themedUrls = { allOf: [{ $ref: '#/components/schemas/ThemedUrls' }], nullable: true, readOnly: true };

/** authentik's CurrentBrandSerializer: what any visitor may read about the brand of their request */
export const currentBrandComponent = {
  type: 'object',
  description: 'Partial brand information for styling',
  properties: {
    matched_domain: { type: 'string' },
    branding_title: { type: 'string' },
    branding_logo: { type: 'string' },
    branding_logo_themed_urls: themedUrls,
    branding_favicon: { type: 'string' },
    branding_favicon_themed_urls: themedUrls,
    branding_custom_css: { type: 'string' },
    branding_map_tiles: { type: 'string' },
    ui_footer_links: { type: 'array', items: { $ref: '#/components/schemas/FooterLink' }, readOnly: true },
    ui_theme: { allOf: [{ $ref: '#/components/schemas/UiThemeEnum' }], readOnly: true, default: 'automatic' },
    ...Object.fromEntries(FLOW_FIELDS.map((f) => [f, { type: 'string' }])),
    default_locale: { type: 'string', readOnly: true },
    flags: {
      type: 'object',
      readOnly: true,
      properties: {
        flows_continuous_login: {
          type: 'boolean',
          description: 'Upon successful authentication, re-start authentication in other open tabs.',
        },
        flows_refresh_others: { type: 'boolean', deprecated: true, description: 'Refresh other tabs after successful authentication.' },
      },
      required: ['flows_continuous_login', 'flows_refresh_others'],
    },
  },
  required: [
    'branding_custom_css',
    'branding_favicon',
    'branding_favicon_themed_urls',
    'branding_logo',
    'branding_logo_themed_urls',
    'branding_map_tiles',
    'branding_title',
    'default_locale',
    'flags',
    'matched_domain',
    'ui_footer_links',
    'ui_theme',
  ],
};

export const footerLinkComponent = {
  type: 'object',
  description: 'Links returned in Config API',
  properties: { href: { type: 'string', nullable: true, readOnly: true }, name: { type: 'string', readOnly: true } },
  required: ['href', 'name'],
};

export const uiThemeEnumComponent = { enum: ['automatic', 'light', 'dark'], type: 'string' };
