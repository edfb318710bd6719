/**
 * Enrolments left unfinished. The setup stages write a device, unconfirmed, when they are first shown (authentik keeps
 * it in the session until the code is confirmed); a person who leaves half-way leaves it behind, in the admin device
 * lists and the database. The hourly clean-up (src/auth/housekeeping.ts) removes those a day old: no enrolment takes
 * that long, and a device never confirmed was never used to log in.
 */
import type { DB } from '../db/index.js';
import { deviceClasses } from './registry.js';

export const ABANDONED_AFTER_MS = 24 * 3600_000;

/** deletes the unconfirmed devices older than a day (classes whose devices may stay unconfirmed — Duo's imports, keys being set up — are kept); returns how many */
export async function purgeAbandonedEnrolments(db: DB, now = Date.now()): Promise<number> {
  const before = new Date(now - ABANDONED_AFTER_MS).toISOString();
  let removed = 0;
  for (const k of deviceClasses) {
    if (k.api.listUnconfirmed) continue;
    const r = await db
      .deleteFrom(k.table as never)
      .where('confirmed' as never, '=', 0 as never)
      .where('created' as never, '<', before as never)
      .executeTakeFirst();
    removed += Number(r.numDeletedRows);
  }
  return removed;
}
