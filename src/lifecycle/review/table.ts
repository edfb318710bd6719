/** authentik's LifecycleRule, LifecycleIteration and Review (migration 0045_lifecycle_reviews). */

type Bool = number | boolean;

/** what a rule may review (authentik's `model_choices`) */
export const REVIEWABLE = ['authentik_core.application', 'authentik_core.group', 'authentik_rbac.role'] as const;
export type Reviewable = (typeof REVIEWABLE)[number];

export const ITERATION_STATES = ['REVIEWED', 'PENDING', 'OVERDUE', 'CANCELED'] as const;
export type IterationState = (typeof ITERATION_STATES)[number];

export interface LifecycleRulesTable {
  id: string;
  name: string;
  content_type: Reviewable;
  /** one object of the type, else every object of it */
  object_id: string | null;
  /** authentik's duration strings: how often a review is due, how long it may be late before it is overdue */
  interval: string;
  grace_period: string;
  min_reviewers: number;
  min_reviewers_is_per_group: Bool;
}

export interface LifecycleRuleReviewerGroupsTable {
  rule: string;
  group_uuid: string;
}

export interface LifecycleRuleReviewersTable {
  rule: string;
  user_id: number;
}

export interface LifecycleRuleTransportsTable {
  rule: string;
  transport: string;
}

export interface LifecycleIterationsTable {
  id: string;
  content_type: Reviewable;
  object_id: string;
  /** null once the rule is deleted (its open iterations are cancelled then) */
  rule: string | null;
  state: IterationState;
  opened_on: string;
}

export interface LifecycleReviewsTable {
  id: string;
  iteration: string;
  reviewer: number;
  timestamp: string;
  note: string | null;
}

declare module '../../db/types.js' {
  interface Database {
    lifecycle_rules: LifecycleRulesTable;
    lifecycle_rule_reviewer_groups: LifecycleRuleReviewerGroupsTable;
    lifecycle_rule_reviewers: LifecycleRuleReviewersTable;
    lifecycle_rule_transports: LifecycleRuleTransportsTable;
    lifecycle_iterations: LifecycleIterationsTable;
    lifecycle_reviews: LifecycleReviewsTable;
  }
}
