/**
 * Prometheus metrics (prom-client), served on their own port as authentik does: request latency by route,
 * logins and failures by flow and stage, password hash time, database pool use, process defaults.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Store } from '../db/index.js';

export class Metrics {
  readonly registry = new Registry();
  readonly requestDuration = new Histogram({
    name: 'keystage_http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });
  readonly logins = new Counter({
    name: 'keystage_logins_total',
    help: 'Completed logins by flow',
    labelNames: ['flow'] as const,
    registers: [this.registry],
  });
  readonly loginFailures = new Counter({
    name: 'keystage_login_failures_total',
    help: 'Failed authentication attempts by flow and stage',
    labelNames: ['flow', 'stage', 'reason'] as const,
    registers: [this.registry],
  });
  readonly hashSeconds = new Histogram({
    name: 'keystage_password_hash_seconds',
    help: 'Time to hash or verify a password',
    labelNames: ['op'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1],
    registers: [this.registry],
  });

  readonly idleGcs = new Counter({
    name: 'keystage_idle_gc_total',
    help: 'Memory-reducing garbage collections run because the server was quiet (KEYSTAGE_IDLE_GC_SECONDS)',
    registers: [this.registry],
  });
  readonly idleGcReleased = new Counter({
    name: 'keystage_idle_gc_released_bytes_total',
    help: 'JavaScript heap given back by those collections',
    registers: [this.registry],
  });

  constructor(store: Store) {
    collectDefaultMetrics({ register: this.registry, prefix: 'keystage_' });
    const registry = this.registry;
    new Gauge({
      name: 'keystage_db_pool_connections',
      help: 'Database pool connections by state (PostgreSQL; SQLite reports one embedded connection)',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const s = store.poolStats();
        this.set({ state: 'total' }, s.total);
        this.set({ state: 'idle' }, s.idle);
        this.set({ state: 'waiting' }, s.waiting);
      },
    });
  }

  /** a tiny server of its own for GET /metrics */
  server(): FastifyInstance {
    const app = Fastify({ logger: false });
    app.get('/metrics', async (_req, reply) => reply.type(this.registry.contentType).send(await this.registry.metrics()));
    return app;
  }
}
