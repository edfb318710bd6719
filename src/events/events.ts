/**
 * Audit events, kept in the database in authentik's shape (action, app, user, context, client_ip, created,
 * expires). Reasons for failures stay server-side: they are events, never response bodies.
 */
import { sql } from 'kysely';
import { hot } from '../db/hot.js';
import { dialectOf } from '../db/dialect.js';
import { randomUUID } from 'node:crypto';
import type { DB } from '../db/index.js';
import type { EventJson } from './notifications/send.js';

export type EventAction =
  | 'login'
  | 'login_failed'
  | 'authorize_application'
  | 'logout'
  | 'password_set'
  | 'user_write'
  | 'invitation_used'
  | 'source_linked'
  | 'secret_view'
  | 'secret_rotate'
  | 'suspicious_request'
  | 'configuration_error'
  | 'model_created'
  | 'model_updated'
  | 'model_deleted'
  | 'email_sent'
  | 'policy_execution'
  | 'policy_exception'
  | 'property_mapping_exception'
  | 'impersonation_started'
  | 'impersonation_ended'
  | 'export_ready'
  | 'custom_';

export interface EventUser {
  pk: number;
  username: string;
  email?: string;
  /** who the user acted as (impersonation: the user is the impersonator) */
  on_behalf_of?: { pk: number; username: string; email: string };
}

export interface EventInput {
  user?: EventUser | null;
  clientIp?: string | null;
  context?: Record<string, unknown>;
  app?: string;
}

const COLUMNS = ['event_uuid', 'action', 'app', 'user', 'username', 'context', 'client_ip', 'created', 'expires'] as const;
type Values = Record<(typeof COLUMNS)[number], string | null>;

export class Events {
  private timer: NodeJS.Timeout | undefined;
  /** told of every event recorded (notification rules: events/notifications/dispatch.ts) */
  onEmit?: (event: EventJson) => void;
  /** every login writes an event: the insert is compiled once */
  private readonly insert;

  constructor(
    private readonly db: DB,
    /** how long events are kept (the system settings' `event_retention`), as last read */
    private retentionMs: number,
    /** reads the retention in effect; an event written inside a transaction uses the last value read */
    private readonly retention?: () => Promise<number>,
    /** what an event's context gains from its client IP (authentik's event context processors: `geo`, `asn`) */
    private readonly enrich?: (ip: string) => Record<string, unknown>,
  ) {
    this.insert = hot<Values, unknown>(db, [...COLUMNS], (p) => db.insertInto('events').values(p as never));
  }

  /**
   * `trx`: a transaction of the store's database to write the event in (committed with the change it records).
   * Returns the event's uuid.
   */
  async emit(action: EventAction, e: EventInput = {}, trx?: DB): Promise<string> {
    // (not inside a transaction: with SQLite a read outside it would wait for it)
    if (this.retention && !trx) this.retentionMs = await this.retention();
    const now = Date.now();
    const user = e.user
      ? {
          pk: e.user.pk,
          username: e.user.username,
          email: e.user.email ?? '',
          ...(e.user.on_behalf_of ? { on_behalf_of: e.user.on_behalf_of } : {}),
        }
      : {};
    const context = this.enrich && e.clientIp ? { ...e.context, ...this.enrich(e.clientIp) } : (e.context ?? {});
    const values = {
      event_uuid: randomUUID(),
      action,
      app: e.app ?? 'keystage',
      user: JSON.stringify(user),
      username: e.user?.username ?? '',
      context: JSON.stringify(context),
      client_ip: e.clientIp ?? null,
      created: new Date(now).toISOString(),
      expires: new Date(now + this.retentionMs).toISOString(),
    };
    await this.insert(values, trx);
    if (this.onEmit)
      this.onEmit({
        pk: values.event_uuid,
        event_uuid: values.event_uuid,
        action,
        app: values.app,
        user,
        context,
        client_ip: values.client_ip,
        created: values.created,
      });
    return values.event_uuid;
  }

  /** deletes expired events; returns how many */
  async purgeExpired(): Promise<number> {
    const r = await this.db.deleteFrom('events').where('expires', '<', new Date().toISOString()).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  /** hourly retention sweep (unref'd: never keeps the process alive) */
  startRetention(log: (err: unknown) => void) {
    this.timer = setInterval(() => void this.purgeExpired().catch(log), 3_600_000);
    this.timer.unref();
  }

  stop() {
    if (this.timer) clearInterval(this.timer);
  }
}

/**
 * authentik's GDPR compliance (the system setting `gdpr_compliance`): the events a user caused are deleted with the
 * user, in the deleting transaction. (A scan of the events' `user` JSON: deletions of users are rare.)
 */
export async function deleteEventsOfUser(tx: DB, userId: number): Promise<void> {
  const pk = dialectOf(tx) === 'postgres' ? sql`(("user"::jsonb) ->> 'pk')` : sql`json_extract("user", '$.pk')`;
  await sql`delete from events where ${pk} = ${dialectOf(tx) === 'postgres' ? String(userId) : userId}`.execute(tx);
}
