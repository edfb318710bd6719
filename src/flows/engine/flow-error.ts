/**
 * The flow error for an unexpected failure, as authentik's FlowErrorChallenge: everyone gets the request id; a
 * logged-in superuser, or a user whose attributes (their groups' merged under their own) set
 * `goauthentik.io/user/debug`, also gets the error and its stack trace. Each is recorded as a `system_exception` event.
 */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../../db/index.js';
import type { Events } from '../../events/events.js';
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

/** records the failure (a `system_exception` event with the trace, as authentik's handle_exception) and answers it */
export async function failureChallenge(
  svc: { db: DB; events: Events },
  req: FastifyRequest,
  requester: Requester | undefined,
  err: Error,
): Promise<FlowErrorChallenge> {
  const traceback = err.stack ?? `${err.name}: ${err.message}`;
  const user = requester?.user;
  await svc.events
    .emit('system_exception', {
      req,
      user: user ? { pk: user.id, username: user.username, email: user.email } : null,
      context: { message: traceback },
    })
    .catch((e) => req.log.error({ err: e }, 'recording a flow failure failed'));
  if (!(await seesDetails(svc.db, requester))) return flowError(req.id) as FlowErrorChallenge;
  return { ...flowError(req.id), error: err.message, traceback } as FlowErrorChallenge;
}
