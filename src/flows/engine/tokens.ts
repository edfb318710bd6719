/**
 * Flow tokens (authentik's FlowToken): a plan saved under a random key that a link carries as `?flow_token=`. The
 * executor restores the plan into whichever session opens the link (`restoreFlowToken`), marking it restored
 * (`FlowContext.restoredToken`, authentik's `is_restored`). A token with `revoke_on_execution` is used up by that
 * restore (an administrator's recovery link); otherwise the stage that asked for it consumes it
 * (`consumeFlowToken`, the e-mail stage once the person confirms), so a mail scanner opening the link uses nothing.
 * Only the key's SHA-256 is stored; a token works until `expires` and at most once (one atomic DELETE decides).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { DB } from '../../db/index.js';
import type { Plan } from './plan.js';
import { takeTurn } from '../../db/locks.js';

export const QS_KEY_TOKEN = 'flow_token';

const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

export interface NewFlowToken {
  flowUuid: string;
  userId: number | null;
  identifier: string;
  plan: Plan;
  expires: Date;
  revokeOnExecution: boolean;
}

/** stores the plan; the key (only ever returned here) goes into the link */
export async function createFlowToken(db: DB, t: NewFlowToken): Promise<{ id: string; key: string }> {
  const key = randomBytes(32).toString('base64url');
  const id = randomUUID();
  const now = new Date().toISOString();
  const plan: Plan = structuredClone(t.plan);
  delete plan.context.restoredToken;
  // expired tokens swept on their own (inside the transaction below, two creations could each hold a row the other's
  // sweep waits for: a deadlock)
  await db.deleteFrom('flow_tokens').where('expires', '<', now).execute();
  await db.transaction().execute(async (tx) => {
    // one live token per identifier (authentik's update_or_create for the admin's recovery link); two creations for
    // one identifier at once take turns (PostgreSQL; SQLite's writers always do), else both would stay live
    await takeTurn(tx, `keystage:flow-token:${t.identifier}`);
    await tx.deleteFrom('flow_tokens').where('identifier', '=', t.identifier).execute();
    await tx
      .insertInto('flow_tokens')
      .values({
        id,
        key_hash: hashKey(key),
        identifier: t.identifier,
        flow_uuid: t.flowUuid,
        user_id: t.userId,
        plan: JSON.stringify(plan),
        revoke_on_execution: t.revokeOnExecution ? 1 : 0,
        expires: t.expires.toISOString(),
        created: now,
      })
      .execute();
  });
  return { id, key };
}

/**
 * The plan a link's token restores in this flow, or undefined (unknown, expired, another flow's, already used). A
 * session already continuing this token's plan keeps its progress.
 */
export async function restoreFlowToken(db: DB, flowUuid: string, key: string, current: Plan | undefined): Promise<Plan | undefined> {
  if (!key || key.length > 256) return undefined;
  const row = await db
    .selectFrom('flow_tokens')
    .selectAll()
    .where('key_hash', '=', hashKey(key))
    .where('flow_uuid', '=', flowUuid)
    .where('expires', '>', new Date().toISOString())
    .executeTakeFirst();
  if (!row) return undefined;
  if (current?.context.restoredToken?.id === row.id) return undefined;
  if (row.revoke_on_execution) {
    // used up by this restore: of concurrent requests, only the one whose DELETE removed the row continues
    const gone = await db.deleteFrom('flow_tokens').where('id', '=', row.id).executeTakeFirst();
    if (Number(gone.numDeletedRows) !== 1) return undefined;
  }
  let plan: Plan;
  try {
    plan = JSON.parse(row.plan) as Plan;
  } catch {
    return undefined;
  }
  plan.context.restoredToken = { id: row.id, userId: row.user_id, consumed: !!row.revoke_on_execution };
  return plan;
}

/** uses the token up; false when it was already used (or has expired) */
export async function consumeFlowToken(db: DB, id: string): Promise<boolean> {
  const gone = await db.deleteFrom('flow_tokens').where('id', '=', id).where('expires', '>', new Date().toISOString()).executeTakeFirst();
  return Number(gone.numDeletedRows) === 1;
}

/** whether the token still exists unused and unexpired */
export async function flowTokenLive(db: DB, id: string): Promise<boolean> {
  const row = await db
    .selectFrom('flow_tokens')
    .select('id')
    .where('id', '=', id)
    .where('expires', '>', new Date().toISOString())
    .executeTakeFirst();
  return !!row;
}

/**
 * The plan of the token `id`, used up now (one atomic DELETE decides between concurrent requests), marked restored
 * and consumed; undefined when it is unknown, expired or already used. For a plan a server-side record names (a
 * source stage's suspended flow, kept in the session), never for a key from a link.
 */
export async function takeFlowToken(db: DB, id: string): Promise<Plan | undefined> {
  const row = await db
    .selectFrom('flow_tokens')
    .select(['plan', 'user_id'])
    .where('id', '=', id)
    .where('expires', '>', new Date().toISOString())
    .executeTakeFirst();
  const gone = await db.deleteFrom('flow_tokens').where('id', '=', id).executeTakeFirst();
  if (!row || Number(gone.numDeletedRows) !== 1) return undefined;
  try {
    const plan = JSON.parse(row.plan) as Plan;
    plan.context.restoredToken = { id, userId: row.user_id, consumed: true };
    return plan;
  } catch {
    return undefined;
  }
}
