/**
 * The contract of a task's actor (authentik's dramatiq actors): a name as authentik's, a description the API shows,
 * a default crontab when it runs on a schedule of its own, and the work, which reports through `log` (the task's
 * logs; the gravest level becomes its status) and fails by throwing.
 */
import type { BlueprintDiscovery } from '../blueprints/discovery.js';
import type { DB } from '../db/index.js';
import type { Services } from '../services.js';

export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export interface ActorContext {
  svc: Services;
  /** the node's blueprint discovery (absent where a test builds no server) */
  blueprints?: BlueprintDiscovery;
  /** the object a per-object schedule runs for */
  relObjId: string | null;
  log(level: LogLevel, event: string, attributes?: Record<string, unknown>): void;
}

export interface Actor {
  name: string;
  description: string;
  /** a schedule of its own, created at start (authentik's global ScheduleSpec); `{m}`/`{h}`/`{m5}` become a minute/hour/minute below 5
   * fixed per actor name (authentik's fqdn_rand), so nodes and installs do not all run at the same instant */
  crontab?: string;
  /** a schedule per object instead of one (authentik's ScheduledModel): the objects there are, each with the name that
   * tells its schedule apart (authentik's `_uid`); the crontab's `{m}`/`{h}` are then fixed per object */
  objects?: { app_label: string; model: string; list(db: DB): Promise<{ id: string; uid: string }[]> };
  run(ctx: ActorContext): Promise<void>;
}
