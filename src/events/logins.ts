/** A user's logins as their events recorded them (the GeoIP policy's history). */
import type { DB, Dialect } from '../db/index.js';
import { jsonIntegerIs } from '../rest/json-sql.js';

/**
 * the context and time of the user's last `n` login events, newest first: found by their username (index
 * `events_username_action`, migration 0038) and id, so a renamed user's earlier logins are not among them
 */
export function lastLogins(db: DB, dialect: Dialect, user: { id: number; username: string }, n: number) {
  return db
    .selectFrom('events')
    .select(['context', 'created'])
    .where('username', '=', user.username)
    .where('action', '=', 'login')
    .where(jsonIntegerIs('user', ['pk'], user.id, dialect))
    .orderBy('created', 'desc')
    .limit(n)
    .execute();
}
