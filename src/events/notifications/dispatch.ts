/**
 * What happens after an event is recorded (authentik's event_trigger_dispatch/handler): each notification rule whose
 * policies pass for the event (any binding; a rule without bindings never fires; the policies see the event as
 * `request.context["event"]` and no user) notifies its recipients — the event's user when `destination_event_user`,
 * and the direct members of `destination_group` — through each of its transports, once per recipient, or once in
 * all for a `send_once` transport.
 *
 * It runs after the request that recorded the event, in this process; a failure is recorded as a
 * `configuration_error` event naming the transport, which rules never act on (no loop), nor on events a policy bound
 * to a rule produced. The rules are kept until the next admin write (db/admin-cache.ts): an event costs no statement
 * while no rule exists.
 */
import type { Services } from '../../services.js';
import { cachedAdminData } from '../../db/admin-cache.js';
import { liveBinding } from '../../policies/bindings/expiry.js';
import type { UsersTable } from '../../db/types.js';
import { newNotification, sendOrRecord, summary, type EventJson } from './send.js';
import type { NotificationRulesTable, NotificationTransportsTable } from './table.js';

interface KeptRule extends NotificationRulesTable {
  transports: NotificationTransportsTable[];
}

async function rules(svc: Services): Promise<KeptRule[]> {
  return cachedAdminData(svc.db, 'notification-rules', async () => {
    const rows = await svc.db.selectFrom('notification_rules').selectAll().orderBy('name').execute();
    if (!rows.length) return [];
    const links = await svc.db
      .selectFrom('notification_rule_transports as l')
      .innerJoin('notification_transports as t', 't.uuid', 'l.transport')
      .selectAll('t')
      .select('l.rule')
      .orderBy('t.name')
      .execute();
    return rows.map((r) => ({ ...r, transports: links.filter((l) => l.rule === r.pbm_uuid) }));
  });
}

async function recipients(svc: Services, rule: KeptRule, event: EventJson): Promise<UsersTable[]> {
  const ids: number[] = [];
  if (rule.destination_event_user && typeof event.user?.pk === 'number') ids.push(event.user.pk);
  if (rule.destination_group)
    for (const m of await svc.db.selectFrom('user_groups').select('user_id').where('group_uuid', '=', rule.destination_group).execute())
      if (!ids.includes(Number(m.user_id))) ids.push(Number(m.user_id));
  if (!ids.length) return [];
  const users = (await svc.db.selectFrom('users').selectAll().where('id', 'in', ids).execute()) as UsersTable[];
  return ids.flatMap((id) => users.filter((u) => u.id === id));
}

/**
 * whether the event came from a policy bound to a rule (authentik stops there, or a rule could feed itself); an
 * expired binding binds nothing
 */
async function fromRulePolicy(svc: Services, event: EventJson, kept: KeptRule[]): Promise<boolean> {
  const policy = event.context.policy_uuid ?? (event.context.policy as { pk?: unknown } | undefined)?.pk;
  if (typeof policy !== 'string') return false;
  const bound = await svc.db
    .selectFrom('policy_bindings')
    .select('policy_binding_uuid')
    .where('policy', '=', policy)
    .where(
      'target',
      'in',
      kept.map((r) => r.pbm_uuid),
    )
    .where(liveBinding())
    .executeTakeFirst();
  return !!bound;
}

async function handle(svc: Services, event: EventJson): Promise<void> {
  if (event.context.notification_transport !== undefined) return;
  const kept = await rules(svc);
  if (!kept.length || (await fromRulePolicy(svc, event, kept))) return;
  for (const rule of kept) {
    if (!(await svc.policies.hasBindings(rule.pbm_uuid))) continue;
    const verdict = await svc.policies.check({
      target: rule.pbm_uuid,
      mode: 'any',
      request: { user: undefined, context: { event }, debug: false },
    });
    if (!verdict.passing) continue;
    const users = await recipients(svc, rule, event);
    for (const transport of rule.transports)
      for (const user of users) {
        await sendOrRecord(svc, transport, newNotification(rule.severity, summary(event), user, event), {
          notification_rule: { pk: rule.pbm_uuid, name: rule.name },
        });
        if (transport.send_once) break;
      }
  }
}

/** the events' hook: runs after the current request's work, never throwing into it */
export function notificationDispatcher(svc: () => Services, onError: (err: unknown) => void) {
  return (event: EventJson) => {
    setImmediate(() => {
      handle(svc(), event).catch(onError);
    });
  };
}
