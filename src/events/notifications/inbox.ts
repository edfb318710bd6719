/**
 * /events/notifications/: a person's notifications (authentik's NotificationViewSet): list, retrieve, mark seen,
 * delete, and `mark_all_seen`. Everyone, superusers included, sees only their own.
 */
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S } from '../../rest/schema.js';
import { requireCaller } from '../../rest/auth.js';
import { rowToApi } from '../../rest/serialize.js';
import type { Services } from '../../services.js';
import { eventResource } from '../resource.js';
import type { NotificationsTable } from './table.js';

const SEVERITIES = ['notice', 'warning', 'alert'] as const;

const inboxProps = {
  pk: S.ro(S.uuid({ title: 'Uuid' })),
  severity: S.ro(Type.Unsafe<string>({ type: 'string', enum: [...SEVERITIES] })),
  body: S.ro(S.text()),
  hyperlink: S.nullable(S.text({ maxLength: 4096, 'x-optional': true })),
  hyperlink_label: S.nullable(S.text({ 'x-optional': true })),
  created: S.ro(S.datetime()),
  event: S.ro(Type.Unsafe({ $ref: '#/components/schemas/Event', 'x-computed': true, 'x-optional-out': true })),
  seen: S.bool({ 'x-optional': true }),
};

type Row = NotificationsTable;

export function mountInbox(router: ApiRouter, svc: Services) {
  const { db } = svc;
  const def: ResourceDef<Row> = {
    component: 'Notification',
    model: 'Notification',
    path: '/events/notifications',
    opPrefix: 'events_notifications',
    tag: 'events',
    lookup: { param: 'uuid', column: 'n.uuid', rowKey: 'uuid', type: 'uuid' },
    props: inboxProps,
    ops: ['list', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'owner', column: 'n.user_id', strict: true },
    list: {
      filters: {
        body: { type: 'str', column: 'n.body' },
        created: { type: 'datetime', column: 'n.created' },
        event: { type: 'uuid', column: 'n.event_uuid' },
        seen: { type: 'bool', column: 'n.seen' },
        severity: { type: 'enum', column: 'n.severity', values: SEVERITIES },
        user: { type: 'int', column: 'n.user_id' },
      },
      search: ['n.body'],
      ordering: { created: 'n.created', severity: 'n.severity', seen: 'n.seen', pk: 'n.uuid' },
      defaultOrdering: ['-created'],
      pk: 'n.uuid',
    },
    select: (d) => d.selectFrom('notifications as n').selectAll('n'),
    render: async (d, rows, req) => {
      const ids = [...new Set(rows.map((r) => r.event_uuid).filter((e): e is string => !!e))];
      const events = ids.length
        ? await eventResource.render(
            d,
            (await d.selectFrom('events').selectAll().select('event_uuid as pk').where('event_uuid', 'in', ids).execute()) as never,
            req,
          )
        : [];
      return rows.map((r) => {
        const event = events.find((e) => e.pk === r.event_uuid);
        return {
          ...rowToApi(inboxProps, r),
          pk: r.uuid,
          seen: !!r.seen,
          ...(event ? { event } : {}),
        };
      });
    },
    update: async (tx, existing, data) => {
      const set: Partial<Row> = {};
      if (data.seen !== undefined && data.seen !== null) set.seen = data.seen ? 1 : 0;
      if (data.hyperlink !== undefined) set.hyperlink = data.hyperlink as string | null;
      if (data.hyperlink_label !== undefined) set.hyperlink_label = data.hyperlink_label as string | null;
      if (Object.keys(set).length) await tx.updateTable('notifications').set(set).where('uuid', '=', existing.uuid).execute();
      return existing.uuid;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('notifications').where('uuid', '=', existing.uuid).execute();
    },
  };
  mountResource(router, db, def);
  router.route('/events/notifications/mark_all_seen', {
    post: {
      doc: { operationId: 'events_notifications_mark_all_seen_create', tag: 'events', status: 204 },
      handler: async (req, reply) => {
        const caller = requireCaller(req);
        await db.updateTable('notifications').set({ seen: 1 }).where('user_id', '=', caller.user.id).where('seen', '=', 0).execute();
        reply.code(204);
        return reply.send();
      },
    },
  });
}
