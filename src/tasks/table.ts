/**
 * authentik's tasks (migration 0041_tasks): schedules, the tasks they and the API queue, the nodes that run them.
 */
type Bool = number | boolean;

/** authentik's Schedule: an actor run by a crontab (UTC) unless paused */
export interface TaskSchedulesTable {
  id: string;
  /** unique name of a built-in schedule (the actor's name for a global one) */
  identifier: string | null;
  /** authentik's `_uid`: what tells apart one actor's schedules (its object's name), else null */
  uid_suffix: string | null;
  actor_name: string;
  rel_obj_app_label: string | null;
  rel_obj_model: string | null;
  rel_obj_id: string | null;
  crontab: string;
  paused: Bool;
  /** when it runs next; a node that moves it on (compare-and-set) is the one that queues the run */
  next_run: string;
}

/** authentik's Task: one run of an actor, queued by a schedule, the API's `send` or a retry */
export interface TasksTable {
  message_id: string;
  queue_name: string;
  actor_name: string;
  /** queued | running | done | rejected (authentik's TaskState) */
  state: string;
  mtime: string;
  retries: number;
  eta: string | null;
  rel_obj_app_label: string | null;
  rel_obj_model: string | null;
  rel_obj_id: string | null;
  uid: string;
  /** JSON: LogEvent[] of this run */
  logs: string;
  /** JSON: LogEvent[] of the runs before a retry */
  previous_logs: string;
  /** the state, or once done the gravest level logged: info | warning | error (done when nothing was logged) */
  aggregated_status: string;
  schedule_id: string | null;
  /** the node running it (a task_workers id), from when it was taken */
  worker_id: string | null;
}

/** a node that runs tasks, as last seen */
export interface TaskWorkersTable {
  worker_id: string;
  version: string;
  last_seen: string;
}

declare module '../db/types.js' {
  interface Database {
    task_schedules: TaskSchedulesTable;
    tasks: TasksTable;
    task_workers: TaskWorkersTable;
  }
}
