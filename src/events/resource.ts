/** /events/events/: the audit log, read-only, for superusers. */
import { compileDjangoQL } from '../rest/djangoql.js';
import { eventQLFields } from './ql.js';
import { Type } from '@sinclair/typebox';
import { sql, type Selectable, type SqlBool } from 'kysely';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { rowToApi } from '../rest/serialize.js';
import type { FilterSpec } from '../rest/list.js';
import { jsonIntegerIs, jsonStringAt } from '../rest/json-sql.js';
import type { EventsTable } from '../db/types.js';
import type { Services } from '../services.js';
import { requirePermission } from '../rbac/check.js';
import { mountEventStats } from './stats.js';

export const ACTIONS = [
  'login',
  'login_failed',
  'logout',
  'user_write',
  'user_offboarded',
  'suspicious_request',
  'password_set',
  'secret_view',
  'secret_rotate',
  'invitation_used',
  'authorize_application',
  'source_linked',
  'impersonation_started',
  'impersonation_ended',
  'flow_execution',
  'policy_execution',
  'policy_exception',
  'property_mapping_exception',
  'system_task_execution',
  'system_task_exception',
  'system_exception',
  'configuration_error',
  'configuration_warning',
  'model_created',
  'model_updated',
  'model_deleted',
  'email_sent',
  'update_available',
  'export_ready',
  'review_initiated',
  'review_overdue',
  'review_attested',
  'review_completed',
  'access_request_created',
  'access_request_approved',
  'access_request_denied',
  'access_request_revoked',
  'custom_',
] as const;

const eventProps = {
  pk: S.ro(S.uuid()),
  user: S.obj(),
  action: S.enumOf(ACTIONS),
  app: S.text(),
  context: S.obj(),
  client_ip: S.text({ nullable: true }),
  created: S.ro(S.datetime()),
  expires: S.datetime(),
  brand: S.ro(Type.Unsafe({ type: 'object', additionalProperties: {}, 'x-computed': true })),
};

type Row = Selectable<EventsTable> & { pk: string };

const actionsFilter: FilterSpec = {
  type: 'custom',
  parse: (vals) => {
    const chosen = vals.filter((v) => v !== '');
    if (!chosen.length) return { cond: undefined };
    const bad = chosen.find((v) => !(ACTIONS as readonly string[]).includes(v));
    if (bad) return { error: [`Select a valid choice. ${bad} is not one of the available choices.`] };
    return { cond: (eb) => eb(sql.ref('action'), 'in', chosen) };
  },
  schema: { type: 'array', items: { type: 'string', enum: [...ACTIONS] } },
  explode: true,
};

/** EventsFilter's `context__<path>=value`: the JSON string at that path of the context equals the value */
const contextFilter = (...path: string[]): FilterSpec => ({
  type: 'custom',
  parse: (vals, dialect) => {
    const v = vals[vals.length - 1] ?? '';
    if (v === '') return { cond: undefined };
    return { cond: () => sql<SqlBool>`${jsonStringAt('context', path, dialect)} = ${v}` };
  },
});

/**
 * EventsFilter's `filter_context_model_pk`: primary keys are compared without dashes (authentik stores a UUID as
 * its hex, a client may send it with dashes), and a value that is an integer also matches that number.
 */
const contextPkFilter = (key: string): FilterSpec => ({
  type: 'custom',
  parse: (vals, dialect) => {
    const raw = vals[vals.length - 1] ?? '';
    if (raw === '') return { cond: undefined };
    const v = raw.replaceAll('-', '');
    const path = [key, 'pk'];
    const asText = sql<SqlBool>`replace(${jsonStringAt('context', path, dialect)}, '-', '') = ${v}`;
    const n = /^\s*[-+]?\d+\s*$/.test(v) ? Number(v) : undefined;
    if (n === undefined || !Number.isSafeInteger(n)) return { cond: () => asText };
    return { cond: (eb) => eb.or([asText, jsonIntegerIs('context', path, n, dialect)]) };
  },
});

/**
 * `brand_name` (authentik's `brand__name`): the `name` in the event's `brand`. A brand as events record it has no
 * `name` (authentik's model_to_dict of a brand has none either), so today it matches no event — as in authentik.
 */
const brandNameFilter: FilterSpec = {
  type: 'custom',
  parse: (vals, dialect) => {
    const v = vals[vals.length - 1] ?? '';
    if (v === '') return { cond: undefined };
    return { cond: () => sql<SqlBool>`${jsonStringAt('brand', ['name'], dialect)} = ${v}` };
  },
};

const parsed = (text: string): Record<string, unknown> => {
  try {
    return JSON.parse(text || '{}') as Record<string, unknown>;
  } catch {
    return {};
  }
};

export const eventResource: ResourceDef<Row> = {
  component: 'Event',
  model: 'Event',
  path: '/events/events',
  opPrefix: 'events_events',
  tag: 'events',
  lookup: { param: 'event_uuid', column: 'event_uuid', type: 'uuid' },
  props: eventProps,
  ops: ['list', 'retrieve'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_events.event', verbose: 'Event' },
  list: {
    // authentik's EventsFilter
    filters: {
      action: { type: 'str', column: 'action', op: 'icontains' },
      actions: actionsFilter,
      username: { type: 'str', column: 'username' },
      client_ip: { type: 'str', column: 'client_ip' },
      brand_name: brandNameFilter,
      context_model_pk: contextPkFilter('model'),
      context_model_name: contextFilter('model', 'model_name'),
      context_model_app: contextFilter('model', 'app'),
      context_authorized_app: contextFilter('authorized_application', 'pk'),
      context_device: contextPkFilter('device'),
    },
    search: ['action', 'username', 'client_ip', 'app'],
    // `?search=` is authentik's query language first (src/events/ql.ts); anything that is not falls back to the plain search
    searchQuery: (search, dialect) => {
      const cond = compileDjangoQL(search, eventQLFields, dialect);
      return cond && (() => cond);
    },
    ordering: { created: 'created', action: 'action', client_ip: 'client_ip', app: 'app', user: 'username', pk: 'event_uuid' },
    defaultOrdering: ['-created'],
    pk: 'event_uuid',
  },
  select: (db) => db.selectFrom('events').selectAll().select('event_uuid as pk'),
  render: async (_db, rows) => rows.map((r) => ({ ...rowToApi(eventProps, r), brand: parsed(r.brand) })),
};

/** Django's label of a TextChoices member without one: its name in title case (`login_failed` → `Login Failed`) */
const actionLabel = (a: string) =>
  a === 'custom_'
    ? 'Custom Prefix'
    : a
        .split('_')
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
        .join(' ');

export function mountEvents(router: ApiRouter, svc: Services) {
  const { perm } = mountResource(router, svc.db, eventResource);
  mountEventStats(router, svc);
  // authentik's `actions`: every event action, for whoever may read events
  router.route('/events/events/actions', {
    get: {
      doc: {
        operationId: 'events_events_actions_list',
        tag: 'events',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        await requirePermission(svc.db, req, perm('view'));
        return ACTIONS.map((a) => ({
          name: actionLabel(a),
          description: '',
          component: a,
          model_name: '',
          requires_enterprise: false,
          deprecated: false,
        }));
      },
    },
  });
}
