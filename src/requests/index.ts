/**
 * Access requests (authentik's enterprise `requests` app): rules, their bindings to applications and entitlements,
 * grant requests and the in-memory stage that makes them. The brand's `flow_request` (or a rule's `request_flow`) is
 * the flow a request runs; `/core/applications/requestable/` and `/core/application_entitlements/requestable/` list
 * what the caller may ask for (eligibility.ts).
 */
import { registerModel } from '../rbac/catalogue.js';
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { mountGrantRequests } from './grant-requests.js';
import { mountRequestable } from './requestable.js';
import { mountRuleBindings } from './rule-bindings.js';
import { mountRules } from './rules.js';

export { requestableOf } from './eligibility.js';
export { renderTargets } from './grant-requests.js';
export { requestStageByKind } from './final-stage.js';

export function mountRequests(router: ApiRouter, svc: Services) {
  registerModel({
    label: 'authentik_requests.grantrequest',
    verbose: 'Grant Request',
    extra: [
      ['request_grantrequest', 'Can create a grant request'],
      ['fulfill_grantrequest', 'Can fulfill (approve/deny) a grant request'],
      ['revoke_grantrequest', 'Can revoke a grant request'],
    ],
  });
  mountRules(router, svc);
  mountRuleBindings(router, svc);
  mountGrantRequests(router, svc);
  mountRequestable(router, svc);
}
