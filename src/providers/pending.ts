/**
 * A protocol request waiting in the session while the provider's authorization flow runs (OAuth2's authorize, SAML's
 * single sign-on): kept under a random key that only the flow's continuation names, at most ten per session and for
 * thirty minutes, and taken once by the person who started it.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable, UsersTable } from '../db/types.js';
import { type ConsentPermission, planApplication } from '../flows/engine/context.js';
import type { Plan } from '../flows/engine/plan.js';
import { startFlow } from '../flows/engine/start.js';
import type { Services } from '../services.js';
import type { Session } from '../sessions/sessions.js';

const PENDING_MAX = 10;
const PENDING_TTL_MS = 30 * 60_000;

export interface PendingBase {
  provider: number;
  user: number;
  created: number;
}

/** keeps `value` under a new key (stale and surplus entries of the prefix dropped); the session is marked dirty */
export function keepPending(
  session: Session,
  prefix: string,
  value: Omit<PendingBase, 'created'> & Record<string, unknown>,
): { key: string; created: number } {
  const store = (session.data.providers ??= {});
  const now = Date.now();
  for (const [k, v] of Object.entries(store))
    if (k.startsWith(prefix) && now - ((v as PendingBase).created ?? 0) > PENDING_TTL_MS) delete store[k];
  const keys = Object.keys(store).filter((k) => k.startsWith(prefix));
  while (keys.length >= PENDING_MAX) delete store[keys.shift()!];
  const key = randomBytes(24).toString('base64url');
  store[prefix + key] = { ...value, created: now };
  session.dirty = true;
  return { key, created: now };
}

/** drops a kept entry (the flow was done at once) */
export function dropPending(session: Session, prefix: string, key: string): void {
  if (session.data.providers) delete session.data.providers[prefix + key];
}

/**
 * The provider's authorization flow for a request that waits in the session (OAuth2's authorize, SAML's single
 * sign-on, WS-Federation's sign-in): the request kept under `prefix`, the flow planned with authentik's consent context
 * and the continuation `fulfilPath(key)`. `'done'`: the flow had nothing to ask — the request is dropped again and the
 * caller fulfils it at once (authentik sends the browser through the flow page first; same outcome); `'denied'`: the
 * flow does not apply; else the browser was sent to the flow page (the reply is returned).
 */
export async function startAuthorization(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  o: {
    flow: FlowsTable;
    session: Session;
    prefix: string;
    pending: Omit<PendingBase, 'created'> & Record<string, unknown>;
    user: UsersTable;
    app: { pbm_uuid: string; slug: string; name: string };
    permissions: ConsentPermission[];
    fulfilPath: (key: string) => string;
    amend?: (plan: Plan) => void;
  },
): Promise<'done' | 'denied' | FastifyReply> {
  const { key } = keepPending(o.session, o.prefix, o.pending);
  const started = await startFlow(
    svc,
    o.flow,
    {
      user: o.user,
      context: {
        application: planApplication(o.app),
        consent_header: `You're about to sign into ${o.app.name}.`,
        consent_permissions: o.permissions,
      },
      // biome-ignore lint/suspicious/noThenProperty: startFlow's continuation (flows/engine/start.ts), not a thenable
      then: o.fulfilPath(key),
      ...(o.amend ? { amend: o.amend } : {}),
      session: o.session,
      finishEmpty: true,
    },
    req,
    reply,
  );
  if (started === 'done') {
    dropPending(o.session, o.prefix, key);
    await svc.sessions.save(o.session, req, reply);
    return 'done';
  }
  if (!started) return 'denied';
  return reply.redirect(`/if/flow/${encodeURIComponent(o.flow.slug)}/`, 302);
}

/** the entry under `key`, taken (deleted) when it is this user's and fresh; undefined otherwise */
export function takePending<T extends PendingBase>(
  session: Session,
  prefix: string,
  key: string,
  userId: number | undefined,
): T | undefined {
  const pending = session.data.providers?.[prefix + key] as T | undefined;
  if (!pending || userId === undefined || pending.user !== userId || Date.now() - pending.created > PENDING_TTL_MS) return undefined;
  delete session.data.providers![prefix + key];
  session.dirty = true;
  return pending;
}
