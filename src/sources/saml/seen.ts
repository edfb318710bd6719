/**
 * The responses a SAML source has accepted: each ID once, on every node (one INSERT per ID in one transaction; a
 * conflict — the same response, or the same signed assertion in a new response — refuses the whole response), until
 * the assertion would have expired anyway. The hourly housekeeping drops the expired ones.
 */
import type { DB } from '../../db/index.js';

class Replayed extends Error {}

export async function acceptOnce(db: DB, source: string, ids: readonly string[], expires: Date): Promise<boolean> {
  try {
    await db.transaction().execute(async (tx) => {
      for (const response_id of new Set(ids)) {
        const taken = await tx
          .insertInto('saml_seen_responses')
          .values({ source_uuid: source, response_id, expires: expires.toISOString() })
          .onConflict((oc) => oc.columns(['source_uuid', 'response_id']).doNothing())
          .returning('response_id')
          .executeTakeFirst();
        if (!taken) throw new Replayed();
      }
    });
    return true;
  } catch (e) {
    if (e instanceof Replayed) return false;
    throw e;
  }
}

export async function purgeSeenResponses(db: DB): Promise<void> {
  await db.deleteFrom('saml_seen_responses').where('expires', '<', new Date().toISOString()).execute();
}
