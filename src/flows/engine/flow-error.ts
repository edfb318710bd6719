/**
 * The flow error for an unexpected failure, as authentik's FlowErrorChallenge: everyone gets the request id; a
 * logged-in superuser, or a user whose attributes (their groups' merged under their own) set
 * `goauthentik.io/user/debug`, also gets the error and its stack trace.
 */
import type { DB } from '../../db/index.js';
import { groupAttributes } from '../../groups/membership.js';
import type { FlowErrorChallenge } from './challenge-types.js';
import { flowError } from './challenge.js';
import type { Requester } from './planner.js';

export const USER_ATTRIBUTE_DEBUG = 'goauthentik.io/user/debug';

/** Python's bool() of a JSON value */
const pyTruthy = (v: unknown): boolean =>
  Array.isArray(v) ? v.length > 0 : typeof v === 'object' && v !== null ? Object.keys(v).length > 0 : Boolean(v);

async function seesDetails(db: DB, requester: Requester | undefined): Promise<boolean> {
  const user = requester?.user;
  if (!user) return false;
  if (requester.superuser) return true;
  try {
    return pyTruthy((await groupAttributes(db, user.id, user.attributes))[USER_ATTRIBUTE_DEBUG]);
  } catch {
    return false;
  }
}

export async function failureChallenge(
  db: DB,
  requestId: string,
  requester: Requester | undefined,
  err: Error,
): Promise<FlowErrorChallenge> {
  if (!(await seesDetails(db, requester))) return flowError(requestId) as FlowErrorChallenge;
  return { ...flowError(requestId), error: err.message, traceback: err.stack ?? `${err.name}: ${err.message}` } as FlowErrorChallenge;
}
