/**
 * authentik's enterprise lifecycle app: user offboarding (./offboarding/) and object lifecycle management — access
 * reviews of applications, groups and roles (./review/).
 */
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { mountOffboarding } from './offboarding/resource.js';
import { mountRules } from './review/rules.js';
import { mountReviewRoutes } from './review/routes.js';

export function mountLifecycle(router: ApiRouter, svc: Services) {
  mountOffboarding(router, svc);
  mountRules(router, svc);
  mountReviewRoutes(router, svc);
}
