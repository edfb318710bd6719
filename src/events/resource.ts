/** /events/events/: the audit log, read-only, for superusers. */
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { rowToApi } from '../rest/serialize.js';
import type { FilterSpec } from '../rest/list.js';
import type { EventsTable } from '../db/types.js';
import type { Services } from '../services.js';

const ACTIONS = [
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

type Row = EventsTable & { pk: string };

const actionsFilter: FilterSpec = {
  type: 'custom',
  parse: (vals) => {
    const chosen = vals.filter((v) => v !== '');
    if (!chosen.length) return { cond: undefined };
    const bad = chosen.find((v) => !(ACTIONS as readonly string[]).includes(v));
    if (bad) return { error: [`Select a valid choice. ${bad} is not one of the available choices.`] };
    return { cond: (eb) => eb(sql.ref('action'), 'in', chosen) };
  },
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
  list: {
    filters: {
      action: { type: 'enum', column: 'action', values: ACTIONS },
      actions: actionsFilter,
      username: { type: 'str', column: 'username' },
      client_ip: { type: 'str', column: 'client_ip' },
    },
    search: ['action', 'username', 'client_ip', 'app'],
    ordering: { created: 'created', action: 'action', client_ip: 'client_ip', app: 'app', user: 'username', pk: 'event_uuid' },
    defaultOrdering: ['-created'],
    pk: 'event_uuid',
  },
  select: (db) => db.selectFrom('events').selectAll().select('event_uuid as pk'),
  render: async (_db, rows) => rows.map((r) => ({ ...rowToApi(eventProps, r), brand: {} })),
};

export function mountEvents(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, eventResource);
}
