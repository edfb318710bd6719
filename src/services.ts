/**
 * The one object every mount and every stage call receives: the database, configuration and the shared domain
 * services. Built once in server.ts. `S` is what the stage registry supplies for a kind (the engine's `StageType`);
 * it is a parameter so that this file depends on no engine or stage module.
 */
import type { Config } from './config.js';
import type { DB, Dialect } from './db/index.js';
import type { Sessions } from './sessions/sessions.js';
import type { Events } from './events/events.js';
import type { Signals } from './events/signals.js';
import type { GeoIP } from './geoip/databases.js';
import type { Lockout } from './auth/lockout.js';
import type { Metrics } from './instance/metrics.js';
import type { PolicyEngine } from './policies/engine/engine.js';
import type { Brand } from './brands/match.js';

export interface Services<S = unknown> {
  db: DB;
  dialect: Dialect;
  config: Config;
  secretKey: string;
  installId: string;
  sessions: Sessions;
  events: Events;
  /** a person's credentials changed (password, authenticators): told after the change, to whoever listens (src/events/signals.ts) */
  signals: Signals;
  /** the GeoIP and ASN databases (src/geoip/): lookups are null when a database is off or does not know the address */
  geoip: GeoIP;
  lockout: Lockout;
  metrics: Metrics;
  /** the policy engine (src/policies/engine/): does a policy-binding target pass for a request? */
  policies: PolicyEngine;
  /**
   * the brand of a request (src/brands/match.ts), from the host as Fastify resolved it (`req.host`: X-Forwarded-Host
   * only from a trusted proxy): its title, images and default flows
   */
  /** the request's brand; `db` a transaction to read it through (with SQLite a read outside it would wait for it) */
  brand: (host: string | undefined, db?: DB) => Promise<Brand>;
  /** the registered stage type of a kind (the registry, src/stages/registry.ts, supplies it) */
  stageType: (kind: string) => S | undefined;
  /** a stage's stored configuration as its runtime reads it (secrets decrypted); undefined when it is gone */
  stageConfig: <C = unknown>(kind: string, stageUuid: string) => Promise<C | undefined>;
  /** the node's task scheduler (src/tasks/) once started: a write that adds or removes an object with a schedule of
   * its own kicks it, so the schedule follows at once */
  tasks?: { kick(): void };
}
