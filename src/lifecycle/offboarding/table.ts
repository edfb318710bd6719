/** authentik's UserOffboarding (migration 0044_user_offboardings). */

export const OFFBOARDING_ACTIONS = ['deactivate', 'delete'] as const;
export const OFFBOARDING_STATUSES = ['pending', 'completed', 'failed', 'canceled'] as const;

export interface UserOffboardingsTable {
  id: string;
  user_id: number;
  /** when the action runs */
  scheduled_at: string;
  action: (typeof OFFBOARDING_ACTIONS)[number];
  revoke_sessions: number | boolean;
  revoke_tokens: number | boolean;
  status: (typeof OFFBOARDING_STATUSES)[number];
  /** the user who scheduled it (null once deleted) */
  created_by: number | null;
  created_at: string;
  /** when it completed, failed or was cancelled */
  executed_at: string | null;
  /**
   * when its execution first cut the user's access (deactivated, sessions ended): from then on it can no longer be
   * cancelled, only completed (or failed); not shown by the API
   */
  started_at: string | null;
  /** executions that failed (authentik's `attempts`); at MAX_ATTEMPTS it is `failed` */
  attempts: number;
}

declare module '../../db/types.js' {
  interface Database {
    user_offboardings: UserOffboardingsTable;
  }
}
