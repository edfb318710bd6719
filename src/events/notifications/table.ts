/** The notification tables (migration 0026_notifications). */

export interface NotificationTransportsTable {
  uuid: string;
  name: string;
  /** local | webhook | webhook_slack | email */
  mode: string;
  webhook_url: string;
  webhook_ca: string | null;
  webhook_mapping_body: string | null;
  webhook_mapping_headers: string | null;
  email_subject_prefix: string;
  email_template: string;
  /** 0/1 */
  send_once: number;
}

/** a policy-binding target: `pbm_uuid` is its key */
export interface NotificationRulesTable {
  pbm_uuid: string;
  name: string;
  /** notice | warning | alert */
  severity: string;
  destination_group: string | null;
  /** 0/1 */
  destination_event_user: number;
  policy_engine_mode: string;
}

export interface NotificationRuleTransportsTable {
  rule: string;
  transport: string;
}

export interface NotificationsTable {
  uuid: string;
  user_id: number;
  severity: string;
  body: string;
  created: string;
  event_uuid: string | null;
  /** 0/1 */
  seen: number;
  hyperlink: string | null;
  hyperlink_label: string | null;
}

declare module '../../db/types.js' {
  interface Database {
    notification_transports: NotificationTransportsTable;
    notification_rules: NotificationRulesTable;
    notification_rule_transports: NotificationRuleTransportsTable;
    notifications: NotificationsTable;
  }
}
