/**
 * The audit log's aggregates (authentik's EventViewSet actions, for holders of `view_event`), over the events the
 * list's filters and search select (the same query parameters as `/events/events/`):
 *
 * - `volume/`: how many events of each action were recorded on each day of the last `history_days` (default 7),
 *   `[{action, time, count}]`, `time` the day's start in UTC;
 * - `stats/`: `{unique_users, count_step}`: how many distinct users caused the events, and for each `count_step`
 *   duration how many were recorded within that long before now;
 * - `top_per_user/`: per application, the events of `action` (exactly; default `login`, as authentik — the UI asks
 *   for `authorize_application`) whose context names an `authorized_application`: `[{application, counted_events,
 *   unique_users}]`, the `top_n` (default 15) with most events first.
 */
import { sql, type RawBuilder } from 'kysely';
import type { FastifyRequest } from 'fastify';
import type { ApiRouter, QueryParam } from '../rest/routes.js';
import type { Services } from '../services.js';
import { requirePermission } from '../rbac/check.js';
import { filtered, type Query } from '../rest/list.js';
import { listQueryParams } from '../rest/resource.js';
import { ValidationError } from '../rest/errors.js';
import { durationError, parseDuration } from '../rest/duration.js';
import { dialectOf } from '../db/dialect.js';
import { jsonStringAt } from '../rest/json-sql.js';
import type { DB } from '../db/index.js';
import { eventResource } from './resource.js';

const DAY_MS = 86_400_000;

/** a query parameter as a non-negative integer (400 on the parameter otherwise) */
function intParam(query: Query, name: string, fallback: number): number {
  const raw = query[name];
  const v = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (v === undefined || v === '') return fallback;
  if (!/^\d+$/.test(String(v))) throw ValidationError.field(name, 'A valid integer is required.');
  return Number(v);
}

const userPk = (db: DB): RawBuilder<unknown> =>
  dialectOf(db) === 'postgres' ? sql`(("user"::jsonb) ->> 'pk')` : sql`json_extract("user", '$.pk')`;

async function selected(svc: Services, req: FastifyRequest) {
  await requirePermission(svc.db, req, 'authentik_events.view_event');
  const query = req.query as Query;
  return { query, q: await filtered(svc.db, svc.db.selectFrom('events'), eventResource.list, query) };
}

export function mountEventStats(router: ApiRouter, svc: Services) {
  const { db } = svc;
  const filters: QueryParam[] = listQueryParams(eventResource.list).filter((p) => !['page', 'page_size'].includes(p.name));
  router.component('EventVolume', {
    type: 'object',
    description: 'Count of events of action created on day for a single event action',
    properties: {
      action: { $ref: '#/components/schemas/EventActions' },
      time: { type: 'string', format: 'date-time' },
      count: { type: 'integer' },
    },
    required: ['action', 'count', 'time'],
  });
  router.component('EventStats', {
    type: 'object',
    description: 'Count of unique users in events and aggregated counts per specified deltas',
    properties: { unique_users: { type: 'integer' }, count_step: { type: 'object', additionalProperties: {} } },
    required: ['count_step', 'unique_users'],
  });
  router.component('EventTopPerUser', {
    type: 'object',
    description: "Response object of Event's top_per_user",
    properties: {
      application: { type: 'object', additionalProperties: {} },
      counted_events: { type: 'integer' },
      unique_users: { type: 'integer' },
    },
    required: ['application', 'counted_events', 'unique_users'],
  });

  router.route('/events/events/volume', {
    get: {
      doc: {
        operationId: 'events_events_volume_list',
        tag: 'events',
        query: [...filters, { name: 'history_days', schema: { type: 'integer', default: 7 } }],
        response: { type: 'array', items: { $ref: '#/components/schemas/EventVolume' } },
      },
      handler: async (req) => {
        const { query, q } = await selected(svc, req);
        const days = Math.min(intParam(query, 'history_days', 7), 3650);
        const since = new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS - (days - 1) * DAY_MS).toISOString();
        const day = sql<string>`substr(created, 1, 10)`;
        const rows = await q
          .select(['action', day.as('day'), sql<number | string>`count(*)`.as('n')])
          .where('created', '>=', since)
          .groupBy(['action', day])
          .orderBy(day)
          .orderBy('action')
          .execute();
        return rows.map((r) => ({ action: r.action, time: `${r.day}T00:00:00Z`, count: Number(r.n) }));
      },
    },
  });

  router.route('/events/events/stats', {
    get: {
      doc: {
        operationId: 'events_events_stats_retrieve',
        tag: 'events',
        query: [
          ...filters,
          {
            name: 'count_steps',
            schema: { type: 'array', items: { type: 'string', minLength: 1 } },
            explode: true,
            required: true,
          },
        ],
        response: 'EventStats',
      },
      handler: async (req) => {
        const { query, q } = await selected(svc, req);
        const raw = query.count_steps;
        const steps = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).map(String);
        if (!steps.length) throw ValidationError.field('count_steps', 'This field is required.');
        const ms = steps.map((s) => parseDuration(s));
        const bad = steps.find((_, i) => ms[i] === undefined);
        if (bad !== undefined) throw ValidationError.field('count_steps', durationError(bad));
        const users = await q.select(sql<number | string>`count(distinct ${userPk(db)})`.as('n')).executeTakeFirst();
        const count_step: Record<string, number> = {};
        for (const [i, step] of steps.entries()) {
          const since = new Date(Date.now() - ms[i]!).toISOString();
          const r = await q.select(sql<number | string>`count(*)`.as('n')).where('created', '>=', since).executeTakeFirst();
          count_step[step] = Number(r?.n ?? 0);
        }
        return { unique_users: Number(users?.n ?? 0), count_step };
      },
    },
  });

  router.route('/events/events/top_per_user', {
    get: {
      doc: {
        operationId: 'events_events_top_per_user_list',
        tag: 'events',
        query: [
          ...filters.filter((p) => p.name !== 'action'),
          { name: 'action', schema: { type: 'string' } },
          { name: 'top_n', schema: { type: 'integer', default: 15 } },
        ],
        response: { type: 'array', items: { $ref: '#/components/schemas/EventTopPerUser' } },
      },
      handler: async (req) => {
        await requirePermission(db, req, 'authentik_events.view_event');
        const query = req.query as Query;
        const rawAction = query.action;
        const action = String((Array.isArray(rawAction) ? rawAction[rawAction.length - 1] : rawAction) || 'login');
        const topN = Math.min(intParam(query, 'top_n', 15), 1000);
        // (authentik filters this action by exact match, not the list's `icontains`)
        const { action: _a, ...rest } = query;
        const q = await filtered(db, db.selectFrom('events'), eventResource.list, rest);
        const dialect = dialectOf(db);
        const appPk = jsonStringAt('context', ['authorized_application', 'pk'], dialect);
        const app =
          dialect === 'postgres'
            ? sql<string>`max((context::jsonb -> 'authorized_application')::text)`
            : sql<string>`max(json_extract(context, '$.authorized_application'))`;
        const rows = await q
          .select([
            app.as('application'),
            sql<number | string>`count(*)`.as('counted_events'),
            sql<number | string>`count(distinct ${userPk(db)})`.as('unique_users'),
          ])
          .where('action', '=', action)
          .where(sql<boolean>`${appPk} is not null`)
          .groupBy(appPk)
          .orderBy(sql`count(*)`, 'desc')
          .limit(topN)
          .execute();
        return rows.map((r) => ({
          application: JSON.parse(String(r.application)) as Record<string, unknown>,
          counted_events: Number(r.counted_events),
          unique_users: Number(r.unique_users),
        }));
      },
    },
  });
}
