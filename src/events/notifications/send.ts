/**
 * Sending one notification through one transport, as authentik's NotificationTransport.send: `local` stores it for
 * the user's inbox; `webhook` posts authentik's default body (or the body mapping's dict) with the headers mapping's;
 * `webhook_slack` posts a Slack/Discord attachment; `email` mails it through the global e-mail settings. Returns what
 * the transport answered (the test action shows it); a failure is a TransportError.
 */
import { pyStr } from '../../expressions/py-str.js';
import { randomUUID } from 'node:crypto';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { sendMail, type SmtpSettings } from '../../mail/smtp.js';
import { evaluateWebhookMapping } from '../../propertymappings/webhook.js';
import { VERSION } from '../../version.js';
import { postJson, TransportError } from './http.js';
import type { NotificationTransportsTable } from './table.js';

/** an event as notifications and rules' policies see it (authentik's Event fields) */
export interface EventJson {
  pk: string;
  event_uuid: string;
  action: string;
  app: string;
  user: { pk?: number; username?: string; email?: string };
  context: Record<string, unknown>;
  client_ip: string | null;
  created: string;
  brand?: Record<string, unknown>;
}

export interface Outgoing {
  uuid: string;
  severity: string;
  body: string;
  user: UsersTable;
  event: EventJson | null;
}

/** authentik's Event.summary: the context's message, else the action and the context (as Python prints a dict) */
export const summary = (e: EventJson): string =>
  typeof e.context.message === 'string' ? e.context.message : `${e.action}: ${pyStr(e.context)}`;

/** the notification as a mapping's `notification` variable sees it */
const asVariable = (n: Outgoing) => ({
  pk: n.uuid,
  severity: n.severity,
  body: n.body,
  user: { pk: n.user.id, username: n.user.username, email: n.user.email, name: n.user.name },
  event: n.event,
});

async function mapped(svc: Services, pm: string, n: Outgoing): Promise<Record<string, unknown>> {
  return evaluateWebhookMapping(svc, pm, { user: n.user, vars: { notification: asVariable(n) as never } });
}

async function caOf(svc: Services, kp: string | null): Promise<string | undefined> {
  if (!kp) return undefined;
  const row = await svc.db.selectFrom('crypto_certificatekeypairs').select('certificate_data').where('kp_uuid', '=', kp).executeTakeFirst();
  return row?.certificate_data || undefined;
}

/** a notification into a person's inbox (the local transport; a data export telling its requester, in its transaction) */
export async function storeNotification(
  db: DB,
  n: {
    uuid: string;
    userId: number;
    severity: string;
    body: string;
    eventUuid: string | null;
    hyperlink?: string;
    hyperlinkLabel?: string;
  },
): Promise<void> {
  await db
    .insertInto('notifications')
    .values({
      uuid: n.uuid,
      user_id: n.userId,
      severity: n.severity,
      body: n.body,
      created: new Date().toISOString(),
      event_uuid: n.eventUuid,
      seen: 0,
      hyperlink: n.hyperlink ?? null,
      hyperlink_label: n.hyperlinkLabel ?? null,
    })
    .execute();
}

async function sendLocal(svc: Services, t: NotificationTransportsTable, n: Outgoing): Promise<string[]> {
  if (t.webhook_mapping_body) await mapped(svc, t.webhook_mapping_body, n);
  await storeNotification(svc.db, {
    uuid: n.uuid,
    userId: n.user.id,
    severity: n.severity,
    body: n.body,
    eventUuid: n.event?.event_uuid ?? null,
    // (authentik's Notification takes the event's hyperlink: an access request's fulfil page)
    ...(typeof n.event?.context.hyperlink === 'string' ? { hyperlink: n.event.context.hyperlink } : {}),
    ...(typeof n.event?.context.hyperlink_label === 'string' ? { hyperlinkLabel: n.event.context.hyperlink_label } : {}),
  });
  return [];
}

async function sendWebhook(svc: Services, t: NotificationTransportsTable, n: Outgoing): Promise<string[]> {
  let body: Record<string, unknown> = {
    body: n.body,
    severity: n.severity,
    user_email: n.user.email,
    user_username: n.user.username,
  };
  if (n.event?.user && Object.keys(n.event.user).length) {
    body.event_user_email = n.event.user.email ?? null;
    body.event_user_username = n.event.user.username ?? null;
  }
  if (t.webhook_mapping_body) body = await mapped(svc, t.webhook_mapping_body, n);
  const headers: Record<string, string> = {};
  if (t.webhook_mapping_headers)
    for (const [k, v] of Object.entries(await mapped(svc, t.webhook_mapping_headers, n))) headers[k] = String(v);
  const r = await postJson(t.webhook_url, body, headers, await caOf(svc, t.webhook_ca));
  return [String(r.status), r.text];
}

/** Discord's limit on an embed's fields */
const FIELD_LIMIT = 25;

async function sendSlack(svc: Services, t: NotificationTransportsTable, n: Outgoing): Promise<string[]> {
  const fields: { title: string; value: string; short?: boolean }[] = [
    { title: 'Severity', value: n.severity, short: true },
    { title: 'Dispatched for user', value: n.user.username, short: true },
  ];
  if (n.event) {
    if (n.event.user?.username) fields.push({ title: 'Event user', value: String(n.event.user.username), short: true });
    for (const [k, v] of Object.entries(n.event.context)) {
      if (typeof v !== 'string' || fields.length >= FIELD_LIMIT) continue;
      fields.push({ title: k.slice(0, 256), value: v.slice(0, 1024) });
    }
  }
  const body = {
    username: 'authentik',
    icon_url: 'https://goauthentik.io/img/icon.png',
    attachments: [
      {
        author_name: 'authentik',
        author_link: 'https://goauthentik.io',
        author_icon: 'https://goauthentik.io/img/icon.png',
        title: n.event ? n.event.action : n.body,
        color: '#fd4b2d',
        fields,
        footer: `authentik ${VERSION}`,
      },
    ],
  };
  const r = await postJson(t.webhook_url, body, {}, await caOf(svc, t.webhook_ca));
  return [String(r.status), r.text];
}

async function sendEmail(svc: Services, t: NotificationTransportsTable, n: Outgoing): Promise<string[]> {
  if (!n.user.email.trim()) return [];
  const keyValue: Record<string, string> = { user_email: n.user.email, user_username: n.user.username };
  if (n.event?.user?.username) {
    keyValue.event_user_email = String(n.event.user.email ?? '');
    keyValue.event_user_username = String(n.event.user.username);
  }
  if (n.event) for (const [k, v] of Object.entries(n.event.context)) if (typeof v === 'string') keyValue[k] = v;
  const title = n.event ? n.event.action : n.body.slice(0, 75);
  const lines = Object.entries(keyValue).map(([k, v]) => `${k}: ${v}`);
  const values: Record<string, string> = { body: n.body, title, user: n.user.name || n.user.username, username: n.user.username };
  const text = t.email_template.includes('{{')
    ? t.email_template.replace(/\{\{\s*(\w+)\s*\}\}/g, (m, k: string) => values[k] ?? m)
    : `${n.body}\n\n${lines.join('\n')}\n`;
  const global = { use_global_settings: true } as SmtpSettings;
  try {
    await sendMail(global, svc.config, {
      to: { name: n.user.name, address: n.user.email },
      subject: `${t.email_subject_prefix}${title}`,
      text,
    });
  } catch (e) {
    throw new TransportError(e instanceof Error ? e.message : String(e));
  }
  return [];
}

export async function sendThrough(svc: Services, t: NotificationTransportsTable, n: Outgoing): Promise<string[]> {
  switch (t.mode) {
    case 'local':
      return sendLocal(svc, t, n);
    case 'webhook':
      return sendWebhook(svc, t, n);
    case 'webhook_slack':
      return sendSlack(svc, t, n);
    case 'email':
      return sendEmail(svc, t, n);
    default:
      throw new TransportError(`Invalid mode ${t.mode} set`);
  }
}

export const newNotification = (severity: string, body: string, user: UsersTable, event: EventJson | null): Outgoing => ({
  uuid: randomUUID(),
  severity,
  body,
  user,
  event,
});

/** a stored event as notifications see it (undefined when it is gone) */
export async function eventById(db: DB, eventUuid: string): Promise<EventJson | undefined> {
  const row = await db.selectFrom('events').selectAll().where('event_uuid', '=', eventUuid).executeTakeFirst();
  if (!row) return undefined;
  return {
    pk: row.event_uuid,
    event_uuid: row.event_uuid,
    action: row.action,
    app: row.app,
    user: JSON.parse(row.user),
    context: JSON.parse(row.context),
    client_ip: row.client_ip,
    created: row.created,
  };
}

/**
 * sends, and records a transport's failure as authentik does — a `configuration_error` event naming the transport
 * (and whatever `context` adds: the rule) — instead of throwing it: one recipient's failure does not stop the others
 */
export async function sendOrRecord(
  svc: Services,
  t: NotificationTransportsTable,
  n: Outgoing,
  context: Record<string, unknown> = {},
): Promise<void> {
  try {
    await sendThrough(svc, t, n);
  } catch (e) {
    await svc.events.emit('configuration_error', {
      context: {
        message: `Notification transport ${t.name} failed: ${e instanceof Error ? e.message : String(e)}`,
        notification_transport: { pk: t.uuid, name: t.name },
        ...context,
      },
    });
  }
}
