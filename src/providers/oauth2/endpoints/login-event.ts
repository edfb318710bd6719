/** The user's last login (authentik's `get_login_event`): when and how they authenticated, for auth_time and amr. */
import { sql } from 'kysely';
import type { DB } from '../../../db/index.js';
import type { LoginEvent } from '../protocol/id-token.js';

export interface LastLogin extends LoginEvent {
  uid: string;
  created: Date;
}

export async function lastLoginOf(db: DB, username: string): Promise<LastLogin | undefined> {
  const row = await db
    .selectFrom('events')
    .select(['event_uuid', 'created', 'context'])
    .where('action', '=', 'login')
    .where('username', '=', username)
    .orderBy('created', 'desc')
    .limit(sql.lit(1))
    .executeTakeFirst();
  if (!row) return undefined;
  let context: LoginEvent['context'] = {};
  try {
    context = JSON.parse(row.context) as LoginEvent['context'];
  } catch {}
  return { uid: row.event_uuid, created: new Date(row.created), context };
}
