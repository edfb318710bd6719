/**
 * authentik's query language over events (DjangoQL with EventViewSet's `get_ql_fields`): the events list's
 * `?search=` and the event matcher policy's `query`. The fields: `action`, `event_uuid`, `app`, `client_ip`, `created`
 * and the JSON `user`, `brand` and `context` (reached as `context.<key>…`).
 */
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import { dialectOf } from '../db/dialect.js';
import type { Dialect } from '../db/types.js';
import { compileDjangoQLStrict, type QLField } from '../rest/djangoql.js';

export const eventQLFields: Record<string, QLField> = {
  action: { type: 'str', column: 'action' },
  event_uuid: { type: 'str', column: 'event_uuid', uuid: true },
  app: { type: 'str', column: 'app' },
  client_ip: { type: 'str', column: 'client_ip' },
  user: { type: 'json', column: 'user' },
  brand: { type: 'json', column: 'brand' },
  context: { type: 'json', column: 'context' },
  created: { type: 'datetime', column: 'created' },
};

/** a field of an event as its column holds it: text, JSON objects as their text */
const columnText = (v: unknown): string | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? v : typeof v === 'object' ? JSON.stringify(v) : String(v);

/**
 * The queries compiled so far (a condition depends on the query and the dialect only): a notification rule's matcher
 * runs for every event, its query parsed once. Bounded; an invalid query is not kept (it throws every time).
 */
const compiled = new Map<string, ReturnType<typeof compileDjangoQLStrict>>();
const MAX_COMPILED = 256;

function compiledQuery(query: string, dialect: Dialect) {
  const key = `${dialect}\0${query}`;
  let cond = compiled.get(key);
  if (!cond) {
    cond = compileDjangoQLStrict(query, eventQLFields, dialect);
    if (compiled.size >= MAX_COMPILED) compiled.delete(compiled.keys().next().value as string);
    compiled.set(key, cond);
  }
  return cond;
}

/**
 * whether `event` (an event as notification rules and policy tests give it) matches `query`. The event's fields are
 * compared as a row of the events table would be, without reading the table (the event may not be committed yet).
 * Throws a DjangoQLError for a query that is not valid.
 */
export async function eventMatchesQuery(db: DB, query: string, event: Record<string, unknown>): Promise<boolean> {
  const cond = compiledQuery(query, dialectOf(db));
  const values = {
    action: event.action,
    event_uuid: event.event_uuid ?? event.pk,
    app: event.app,
    client_ip: event.client_ip,
    user: event.user,
    brand: event.brand,
    context: event.context,
    created: event.created,
  };
  const row = sql`(select ${sql.join(Object.entries(values).map(([k, v]) => sql`cast(${columnText(v)} as text) as ${sql.id(k)}`))})`;
  const found = await db.selectFrom(row.as('e')).select(sql<number>`1`.as('one')).where(cond).executeTakeFirst();
  return found !== undefined;
}
