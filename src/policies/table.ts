/** The policy tables (migration 0011_policies); each type's own settings table is reached through its PolicyDef. */
import type { Generated } from 'kysely';

export interface PoliciesTable {
  policy_uuid: string;
  name: string;
  /** lowercase model name: `dummypolicy`, `expressionpolicy`, … */
  kind: string;
  execution_logging: number | boolean;
  created: string;
  last_updated: string;
}

export interface PolicyBindingsTable {
  policy_binding_uuid: string;
  /** the target's `pbm_uuid` (a flow, a flow-stage binding, …) */
  target: string;
  policy: string | null;
  group: string | null;
  user: number | null;
  negate: number | boolean;
  enabled: number | boolean;
  order: number;
  /** seconds */
  timeout: number;
  failure_result: number | boolean;
  /** authentik's ExpiringModel (migration 0039): with `expiring`, the binding stops applying once `expires` has come */
  expiring: Generated<number | boolean>;
  /** ISO timestamp; null: none */
  expires: Generated<string | null>;
}

declare module '../db/types.js' {
  interface Database {
    policies: PoliciesTable;
    policy_bindings: PolicyBindingsTable;
  }
}
