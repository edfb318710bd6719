/** /events/transports/: authentik's NotificationTransportViewSet, with `test`. */
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S } from '../../rest/schema.js';
import { apiToRow, rowToApi } from '../../rest/serialize.js';
import { ValidationError } from '../../rest/errors.js';
import type { Services } from '../../services.js';
import type { UsersTable } from '../../db/types.js';
import { newNotification, sendThrough } from './send.js';
import type { NotificationTransportsTable } from './table.js';

const MODES = ['local', 'webhook', 'webhook_slack', 'email'] as const;
const MODE_VERBOSE: Record<string, string> = {
  local: 'authentik inbuilt notifications',
  webhook: 'Generic Webhook',
  webhook_slack: 'Slack Webhook (Slack/Discord)',
  email: 'Email',
};

const mapping = (description: string) => S.fk({ table: 'property_mappings', column: 'pm_uuid' }, { description, default: null });

export const transportProps = {
  pk: S.ro(S.uuid({ title: 'Uuid' })),
  name: S.str({
    'x-unique': {
      table: 'notification_transports',
      column: 'name',
      self: 'uuid',
      message: 'Notification Transport with this name already exists.',
    },
  }),
  mode: Type.Unsafe<string>({ type: 'string', enum: [...MODES], default: 'local' }),
  mode_verbose: S.ro(S.text({ description: 'Return selected mode with a UI Label', 'x-computed': true })),
  webhook_url: S.text({ format: 'uri', default: '' }),
  webhook_ca: S.fk(
    { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
    { description: 'When set, the selected certificate is used to validate the certificate of the webhook server.', default: null },
  ),
  webhook_mapping_body: mapping('Customize the body of the request. Mapping should return data that is JSON-serializable.'),
  webhook_mapping_headers: mapping('Configure additional headers to be sent. Mapping should return a dictionary of key-value pairs'),
  email_subject_prefix: S.text({ default: 'authentik Notification: ', 'x-no-trim': true }),
  email_template: S.str({ default: 'email/event_notification.html' }),
  send_once: S.bool({
    default: false,
    description: 'Only send notification once, for example when sending a webhook into a chat channel.',
  }),
};

type Row = NotificationTransportsTable;

export function mountTransports(router: ApiRouter, svc: Services) {
  const { db } = svc;
  const def: ResourceDef<Row> = {
    component: 'NotificationTransport',
    model: 'Notification Transport',
    path: '/events/transports',
    opPrefix: 'events_transports',
    tag: 'events',
    lookup: { param: 'uuid', column: 'uuid', type: 'uuid' },
    props: transportProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_events.notificationtransport', verbose: 'Notification Transport' },
    list: {
      filters: {
        name: { type: 'str', column: 'name' },
        mode: { type: 'enum', column: 'mode', values: MODES },
        send_once: { type: 'bool', column: 'send_once' },
        webhook_url: { type: 'str', column: 'webhook_url' },
      },
      search: ['name', 'mode', 'webhook_url'],
      ordering: { name: 'name', mode: 'mode', pk: 'uuid' },
      defaultOrdering: ['name'],
      pk: 'uuid',
      unique: ['name'],
    },
    select: (d) => d.selectFrom('notification_transports').selectAll(),
    render: async (_db, rows) =>
      rows.map((r) => ({ ...rowToApi(transportProps, r), pk: r.uuid, mode_verbose: MODE_VERBOSE[r.mode] ?? r.mode })),
    validate: async (data, ctx, existing) => {
      // authentik's validate: a webhook needs its URL
      const mode = (data.mode as string | undefined) ?? existing?.mode ?? 'local';
      const url = (data.webhook_url as string | undefined) ?? existing?.webhook_url ?? '';
      if ((mode === 'webhook' || mode === 'webhook_slack') && !url)
        throw ValidationError.field('webhook_url', 'Webhook URL may not be empty.');
      for (const key of ['webhook_mapping_body', 'webhook_mapping_headers'] as const) {
        const pm = data[key] as string | null | undefined;
        if (!pm) continue;
        const kind = await ctx.db.selectFrom('property_mappings').select('kind').where('pm_uuid', '=', pm).executeTakeFirst();
        if (kind?.kind !== 'notificationwebhookmapping') throw ValidationError.field(key, `Invalid pk "${pm}" - object does not exist.`);
      }
    },
    insert: async (tx, data) => {
      const uuid = randomUUID();
      await tx
        .insertInto('notification_transports')
        .values({ ...(apiToRow(transportProps, data) as object), uuid } as Row)
        .execute();
      return uuid;
    },
    update: async (tx, existing, data) => {
      const values = apiToRow(transportProps, data);
      if (Object.keys(values).length)
        await tx
          .updateTable('notification_transports')
          .set(values as never)
          .where('uuid', '=', existing.uuid)
          .execute();
      return existing.uuid;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('notification_transports').where('uuid', '=', existing.uuid).execute();
    },
    usedBy: async (d, row) =>
      (
        await d
          .selectFrom('notification_rule_transports as l')
          .innerJoin('notification_rules as r', 'r.pbm_uuid', 'l.rule')
          .select(['r.pbm_uuid', 'r.name'])
          .where('l.transport', '=', row.uuid)
          .execute()
      ).map((r) => ({
        app: 'authentik_events',
        model_name: 'notificationrule',
        pk: r.pbm_uuid,
        name: r.name,
        action: 'cascade_many' as const,
      })),
  };
  const { load } = mountResource(router, db, def);

  router.component('NotificationTransportTest', {
    type: 'object',
    description: 'Notification test serializer',
    properties: { messages: { type: 'array', items: { type: 'string' } } },
    required: ['messages'],
  });
  /** sends a test notification to the caller; what the transport answered, or 400 naming why it failed */
  router.route(
    '/events/transports/{uuid}/test',
    {
      post: {
        doc: { operationId: 'events_transports_test_create', tag: 'events', response: 'NotificationTransportTest' },
        handler: async (req) => {
          const { row, caller } = await load(req, 'change');
          const event = {
            pk: randomUUID(),
            event_uuid: randomUUID(),
            action: 'notification_test',
            app: 'keystage',
            user: { pk: caller.user.id, username: caller.user.username, email: caller.user.email },
            context: { foo: 'bar' },
            client_ip: req.ip,
            created: new Date().toISOString(),
          };
          const n = newNotification('notice', `Test Notification from transport ${row.name}`, caller.user as UsersTable, event);
          try {
            return { messages: await sendThrough(svc, row, n) };
          } catch (e) {
            throw ValidationError.nonField(e instanceof Error ? e.message : String(e));
          }
        },
      },
    },
    [{ name: 'uuid', schema: { type: 'string', format: 'uuid', description: 'A UUID string identifying this Notification Transport.' } }],
  );
}
