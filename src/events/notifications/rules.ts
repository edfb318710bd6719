/** /events/rules/: authentik's NotificationRuleViewSet (a rule is a policy-binding target). */
import { newPk } from '../../rest/requested-pk.js';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { mountResource, type ResourceDef, type Tx } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S } from '../../rest/schema.js';
import type { Services } from '../../services.js';
import { deleteBindingsOf } from '../../policies/targets.js';
import { targetUsedBy } from '../../policies/base.js';
import { renderGroups, type GroupRow } from '../../groups/render.js';
import type { NotificationRulesTable } from './table.js';

const SEVERITIES = ['notice', 'warning', 'alert'] as const;

const ruleProps = {
  pk: S.ro(S.uuid({ title: 'Pbm uuid' })),
  name: S.str({
    'x-unique': {
      table: 'notification_rules',
      column: 'name',
      self: 'pbm_uuid',
      message: 'Notification Rule with this name already exists.',
    },
  }),
  transports: S.m2m(
    { table: 'notification_transports', column: 'uuid' },
    {
      default: [],
      'x-m2m-table': true,
      description:
        'Select which transports should be used to notify the user. If none are selected, the notification will only be shown in the authentik UI.',
    },
  ),
  severity: Type.Unsafe<string>({
    type: 'string',
    enum: [...SEVERITIES],
    default: 'notice',
    description: 'Controls which severity level the created notifications will have.',
  }),
  destination_group: S.fk(
    { table: 'groups', column: 'group_uuid' },
    {
      default: null,
      description: "Define which group of users this notification should be sent and shown to. If left empty, Notification won't ben sent.",
    },
  ),
  destination_group_obj: S.ro(Type.Unsafe({ $ref: '#/components/schemas/Group', nullable: true, 'x-computed': true })),
  destination_event_user: S.bool({
    default: false,
    description:
      'When enabled, notification will be sent to user the user that triggered the event.When destination_group is configured, notification is sent to both.',
  }),
};

type Row = NotificationRulesTable;

async function setTransports(tx: Tx, rule: string, transports: string[] | undefined) {
  if (!transports) return;
  await tx.deleteFrom('notification_rule_transports').where('rule', '=', rule).execute();
  for (const t of new Set(transports)) await tx.insertInto('notification_rule_transports').values({ rule, transport: t }).execute();
}

export function mountRules(router: ApiRouter, svc: Services) {
  const def: ResourceDef<Row> = {
    component: 'NotificationRule',
    model: 'Notification Rule',
    path: '/events/rules',
    opPrefix: 'events_rules',
    tag: 'events',
    lookup: { param: 'pbm_uuid', column: 'r.pbm_uuid', rowKey: 'pbm_uuid', type: 'uuid' },
    props: ruleProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_events.notificationrule', verbose: 'Notification Rule' },
    list: {
      filters: {
        name: { type: 'str', column: 'r.name' },
        severity: { type: 'enum', column: 'r.severity', values: SEVERITIES },
        destination_group__name: {
          type: 'custom',
          parse: (values) => {
            const v = values[values.length - 1] ?? '';
            if (v === '') return { cond: undefined };
            return { cond: (eb) => eb('r.destination_group', 'in', sql<string>`(select group_uuid from groups where name = ${v})`) };
          },
        },
      },
      search: ['r.name'],
      ordering: { name: 'r.name', severity: 'r.severity', pk: 'r.pbm_uuid' },
      defaultOrdering: ['name'],
      pk: 'r.pbm_uuid',
      unique: ['r.name'],
    },
    select: (d) => d.selectFrom('notification_rules as r').selectAll('r'),
    render: async (d, rows) => {
      const ids = rows.map((r) => r.pbm_uuid);
      const links = ids.length ? await d.selectFrom('notification_rule_transports').selectAll().where('rule', 'in', ids).execute() : [];
      const groupIds = [...new Set(rows.map((r) => r.destination_group).filter((g): g is string => !!g))];
      const groups = groupIds.length
        ? await renderGroups(
            d,
            (await d.selectFrom('groups').selectAll().where('group_uuid', 'in', groupIds).execute()) as GroupRow[],
            svc.installId,
            {
              users: false,
              children: false,
              parents: false,
              inheritedRoles: false,
            },
          )
        : [];
      return rows.map((r) => ({
        pk: r.pbm_uuid,
        name: r.name,
        transports: links
          .filter((l) => l.rule === r.pbm_uuid)
          .map((l) => l.transport)
          .sort(),
        severity: r.severity,
        destination_group: r.destination_group,
        destination_group_obj: groups.find((g) => g.pk === r.destination_group) ?? null,
        destination_event_user: !!r.destination_event_user,
      }));
    },
    insert: async (tx, data) => {
      const pbm = newPk();
      await tx
        .insertInto('notification_rules')
        .values({
          pbm_uuid: pbm,
          name: data.name as string,
          severity: (data.severity as string | undefined) ?? 'notice',
          destination_group: (data.destination_group as string | null | undefined) ?? null,
          destination_event_user: data.destination_event_user ? 1 : 0,
          policy_engine_mode: 'any',
        })
        .execute();
      await setTransports(tx, pbm, (data.transports as string[] | undefined) ?? []);
      return pbm;
    },
    update: async (tx, existing, data) => {
      const set: Partial<Row> = {};
      if (data.name !== undefined) set.name = data.name as string;
      if (data.severity !== undefined) set.severity = data.severity as string;
      if (data.destination_group !== undefined) set.destination_group = data.destination_group as string | null;
      if (data.destination_event_user !== undefined) set.destination_event_user = data.destination_event_user ? 1 : 0;
      if (Object.keys(set).length) await tx.updateTable('notification_rules').set(set).where('pbm_uuid', '=', existing.pbm_uuid).execute();
      await setTransports(tx, existing.pbm_uuid, data.transports as string[] | undefined);
      return existing.pbm_uuid;
    },
    remove: async (tx, existing) => {
      await deleteBindingsOf(tx, [existing.pbm_uuid]);
      await tx.deleteFrom('notification_rules').where('pbm_uuid', '=', existing.pbm_uuid).execute();
    },
    usedBy: (d, row) => targetUsedBy(d, row.pbm_uuid, row.name),
  };
  mountResource(router, svc.db, def);
}
