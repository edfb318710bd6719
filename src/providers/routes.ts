/** Every /providers/… route: /providers/all/ and each type's resource with its own routes. */
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { providerTypes } from './registry.js';
import { mountProviderType } from './resource.js';
import { mountAllProviders } from './all.js';

export function mountProviders(router: ApiRouter, svc: Services) {
  mountAllProviders(router, svc);
  for (const def of providerTypes) {
    mountProviderType(router, svc, def);
    def.routes?.(router, svc);
  }
}
