/**
 * Access requests (authentik's enterprise `requests` app; migration 0040_access_requests): request rules (who may
 * approve), their bindings to requestable objects (who may ask, for how long) with child bindings to the object's
 * entitlements, and grant requests with their targets and reviewers' approvals.
 */
type Bool = number | boolean;

/** authentik's RequestRule: a policy-binding target whose bindings say who may approve */
export interface RequestRulesTable {
  uuid: string;
  pbm_uuid: string;
  name: string;
  policy_engine_mode: string;
  /** all | direct | random_min_reviewers */
  notification_mode: string;
  min_reviewers: number;
  min_reviewers_is_per_group: Bool;
  /** flows.flow_uuid: the flow a request runs (else the brand's `flow_request`) */
  request_flow: string | null;
  created: string;
  last_updated: string;
}

export interface RequestRuleTransportsTable {
  rule: string;
  transport: string;
}

/** authentik's RequestRuleBinding: a rule on a requestable object (an application); its bindings say who may ask */
export interface RequestRuleBindingsTable {
  uuid: string;
  pbm_uuid: string;
  rule: string;
  /** the application's pbm_uuid */
  target: string;
  policy_engine_mode: string;
  expiry_pending: string;
  expiry_granted_max: string;
}

/** authentik's RequestRuleChildBinding: an entitlement of the binding's application made requestable with it */
export interface RequestRuleChildBindingsTable {
  uuid: string;
  binding: string;
  /** the entitlement's pbm_uuid */
  target: string;
}

/** authentik's GrantRequest (an ExpiringModel: `expires` is when a pending request lapses, then when its grant ends) */
export interface GrantRequestsTable {
  uuid: string;
  created_by: number;
  fulfilled_by: number | null;
  revoked_by: number | null;
  /** JSON: what the request flow collected (its prompts' data) */
  requester_data: string;
  /** JSON: what the deciding reviewer sent */
  fulfiller_data: string;
  /** created | approved | denied | revoked */
  status: string;
  /** how long the grant lasts once approved (authentik's timedelta string) */
  requested_expiry: string;
  expiring: Bool;
  expires: string | null;
  created: string;
  last_updated: string;
}

export interface GrantRequestTargetsTable {
  uuid: string;
  request: string;
  /** the target's pbm_uuid (an application or an entitlement) */
  target: string;
  /** policy_bindings.policy_binding_uuid of the grant, once approved */
  binding: string | null;
}

export interface GrantRequestApprovalsTable {
  uuid: string;
  request: string;
  reviewer: number;
  /** approved | denied */
  status: string;
  /** JSON */
  attributes: string;
  created: string;
  last_updated: string;
}

declare module '../db/types.js' {
  interface Database {
    request_rules: RequestRulesTable;
    request_rule_transports: RequestRuleTransportsTable;
    request_rule_bindings: RequestRuleBindingsTable;
    request_rule_child_bindings: RequestRuleChildBindingsTable;
    grant_requests: GrantRequestsTable;
    grant_request_targets: GrantRequestTargetsTable;
    grant_request_approvals: GrantRequestApprovalsTable;
  }
}
