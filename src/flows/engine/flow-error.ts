/**
 * The flow error for an unexpected failure, as authentik's FlowErrorChallenge: everyone gets the request id; a
 * logged-in superuser, or a user whose attributes (the brand's, their groups' and their own, merged) set
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

async function seesDetails(svc: FailureServices, req: FastifyRequest, requester: Requester | undefined): Promise<boolean> {
  const user = requester?.user;
  if (!user) return false;
  if (requester.superuser) return true;
  try {
    const brand = (await svc.brand(req.host)).attributes;
    return pyTruthy((await groupAttributes(svc.db, user.id, user.attributes, undefined, brand))[USER_ATTRIBUTE_DEBUG]);
  } catch {
    return false;
  }
}

/** records the failure (a `system_exception` event with the trace, as authentik's handle_exception) and answers it */
type FailureServices = { db: DB; events: Events; brand: (host: string) => Promise<{ attributes: Record<string, unknown> }> };

export async function failureChallenge(
  svc: FailureServices,
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
  if (!(await seesDetails(svc, req, requester))) return flowError(req.id) as FlowErrorChallenge;
  return { ...flowError(req.id), error: err.message, traceback } as FlowErrorChallenge;
}
