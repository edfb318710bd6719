/** /core/brands/ (the resource) and /core/brands/current/ (the request's brand, for anyone). */
import { systemSettings } from '../instance/system-settings/store.js';
import type { ApiRouter } from '../rest/routes.js';
import { mountResource } from '../rest/resource.js';
import type { Services } from '../services.js';
import { brandResource } from './resource.js';
import { currentBrand } from './match.js';
import { currentBrandComponent, footerLinkComponent, uiThemeEnumComponent } from './schema.js';

export function mountBrands(router: ApiRouter, svc: Services) {
  router.component('FooterLink', footerLinkComponent);
  router.component('UiThemeEnum', uiThemeEnumComponent);
  router.component('CurrentBrand', currentBrandComponent);
  // (registered before the resource's `{brand_uuid}` routes; Fastify prefers the static path either way)
  router.route('/core/brands/current', {
    get: {
      doc: { operationId: 'core_brands_current_retrieve', tag: 'core', response: 'CurrentBrand' },
      // authentik: `permission_classes=[AllowAny]`
      handler: async (req) => currentBrand(await svc.brand(req.host), await systemSettings(svc.db)),
    },
  });
  mountResource(router, svc.db, brandResource());
}
