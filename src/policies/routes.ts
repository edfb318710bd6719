/** Every /policies/… route: each type's resource, /policies/all/ and /policies/bindings/. */
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { mountAllPolicies } from './all.js';
import { mountPolicyBindings } from './bindings/resource.js';
import { policyTypes } from './registry.js';
import { mountPolicyType } from './resource.js';

export function mountPolicies(router: ApiRouter, svc: Services) {
  mountAllPolicies(router, svc);
  mountPolicyBindings(router, svc);
  for (const def of policyTypes) {
    mountPolicyType(router, svc.db, def);
    def.routes?.(router, svc);
  }
}
