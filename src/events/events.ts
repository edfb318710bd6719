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
import { cleanseDict } from './diff.js';
import { requestMethod } from '../rest/http.js';

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
  | 'system_exception'
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
  | 'access_request_created'
  | 'access_request_approved'
  | 'access_request_denied'
  | 'access_request_revoked'
  | 'user_offboarded'
  | 'review_initiated'
  | 'review_overdue'
  | 'review_completed'
  | 'custom_';

export interface EventUser {
  pk: number;
  username: string;
  email?: string;
  /** who the user acted as (impersonation: the user is the impersonator) */
  on_behalf_of?: { pk: number; username: string; email: string };
}

/** the request an event came from, as an event reads it (a FastifyRequest is one) */
export interface EventRequest {
  /** null: not an HTTP request (blueprint discovery's system request) */
  ip: string | null;
  url: string;
  method: string;
  host: string;
  headers: Record<string, string | string[] | undefined>;
}

export interface EventInput {
  user?: EventUser | null;
  /** the client's address; default: the request's */
  clientIp?: string | null;
  context?: Record<string, unknown>;
  app?: string;
  /** the request the event came from (authentik's Event.from_http: `context.http_request` and `brand`) */
  req?: EventRequest;
  /**
   * the request's brand as events record it (`Events.brandFor`), when the caller read it already: an event written in
   * a transaction otherwise reads it through that transaction
   */
  brand?: Record<string, unknown>;
}

/** authentik's `context.http_request`: path, method, the query's arguments (and a flow's wrapped `query`) cleansed, user agent */
function httpRequestOf(req: EventRequest): Record<string, unknown> {
  const url = new URL(req.url, 'http://keystage.invalid');
  const args = cleanseDict(Object.fromEntries(url.searchParams));
  if (typeof args.query === 'string') args.query = cleanseDict(Object.fromEntries(new URLSearchParams(args.query)));
  const agent = req.headers['user-agent'];
  return { path: url.pathname, method: requestMethod(req), args, user_agent: Array.isArray(agent) ? (agent[0] ?? '') : (agent ?? '') };
}

const COLUMNS = ['event_uuid', 'action', 'app', 'user', 'username', 'context', 'client_ip', 'created', 'expires', 'brand'] as const;
type Values = Record<(typeof COLUMNS)[number], string | null>;

export class Events {
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
    /** the brand of a request's host as an event records it (read through `db`, the event's transaction if any) */
    private readonly brandOf?: (host: string, db: DB) => Promise<Record<string, unknown>>,
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
    // an HTTP request (discovery's system request has no address: it is none)
    const req = e.req?.ip ? e.req : undefined;
    const clientIp = e.clientIp ?? req?.ip ?? null;
    let context: Record<string, unknown> = e.context ?? {};
    if (req && !('http_request' in context)) context = { ...context, http_request: httpRequestOf(req) };
    if (this.enrich && clientIp) context = { ...context, ...this.enrich(clientIp) };
    // authentik's Event.new: every context is cleansed of what names a credential, at any depth
    context = cleanseDict(context);
    const brand = e.brand ?? (req && this.brandOf ? await this.brandOf(req.host, trx ?? this.db) : {});
    const values = {
      event_uuid: randomUUID(),
      action,
      app: e.app ?? 'keystage',
      user: JSON.stringify(user),
      username: e.user?.username ?? '',
      context: JSON.stringify(context),
      client_ip: clientIp,
      created: new Date(now).toISOString(),
      expires: new Date(now + this.retentionMs).toISOString(),
      brand: JSON.stringify(brand),
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
        brand,
      });
    return values.event_uuid;
  }

  /** the brand of `req` as an event records it (read before a transaction the event is written in) */
  async brandFor(req: EventRequest): Promise<Record<string, unknown>> {
    return req.ip && this.brandOf ? this.brandOf(req.host, this.db) : {};
  }

  /** deletes expired events; returns how many */
  async purgeExpired(): Promise<number> {
    const r = await this.db.deleteFrom('events').where('expires', '<', new Date().toISOString()).executeTakeFirst();
    return Number(r.numDeletedRows);
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
