/**
 * What a source does once an identity provider has vouched for someone (authentik's SourceFlowManager and
 * SourceMatcher, authentik/core/sources/): log in the user the identity is connected to, link it to whoever is
 * logged in, link it to an existing user by e-mail or username (the `*_link` matching modes), or enrol a new user
 * through the source's enrollment flow; `*_deny` refuses when such a user exists. The chosen flow is planned with the
 * pending user and what the source said of the person (`prompt_data`), and ends with the source's in-memory stage,
 * which stores the connection for the user the flow logged in or created (post-source-stage.ts).
 */
import { flowByUuid } from '../flows/store.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Transaction } from 'kysely';
import type { Database } from '../db/types.js';
import { NotFound } from '../rest/errors.js';
import type { UsersTable } from '../db/types.js';
import type { Services } from '../services.js';
import type { Session } from '../sessions/sessions.js';
import { startFlow } from '../flows/engine/start.js';
import type { FlowContext } from '../flows/engine/context.js';
import { POST_SOURCE, postSourceBinding } from './post-source-stage.js';
import { resumeBinding } from './resume-stage.js';
import { resumeSuspendedFlow, suspendedFlow } from './suspended-flow.js';
import type { SourcesTable } from './table.js';
import type { UserMatchingMode } from './schema.js';
import { holding } from '../db/locks.js';

export interface Vouched {
  identifier: string;
  /** the user's properties (authentik's base ones — username, email, name — then the source's mappings'; nulls dropped) */
  properties: Record<string, unknown>;
  /** the groups the source named (authentik's `groups` property), with the names its group mappings gave them */
  groups: { id: string; name: string; attributes?: Record<string, unknown> }[];
  /** sealed access token to keep with the connection, if any */
  accessToken: string | null;
  expires: string;
  /**
   * what the flow's policies see of this login besides the source (authentik's `policy_context`): the OAuth source's
   * `oauth_userinfo`; and the source's `provider_type`, as `context['source'].provider_type`
   */
  policy?: { context?: Record<string, unknown>; providerType?: string };
}

/** the largest userinfo kept in the plan for policies (the plan lives in the session row) */
const MAX_POLICY_CONTEXT_BYTES = 32 * 1024;

export type SourceAnswer =
  /** the session holds a plan of this flow (saved), its page is `to` */
  { type: 'flow'; to: string } | { type: 'linked' } | { type: 'bad_request'; message: string } | { type: 'denied'; message: string };

type Action = { type: 'auth'; userId: number } | { type: 'link'; userId: number } | { type: 'enroll' } | { type: 'deny'; missing?: string };

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** authentik's SourceMatcher.get_user_action, and the logged-in case of get_action */
async function decide(svc: Services, source: SourcesTable, who: Vouched, me: UsersTable | undefined): Promise<Action> {
  const existing = await svc.db
    .selectFrom('user_source_connections')
    .select(['user_id'])
    .where('source_uuid', '=', source.source_uuid)
    .where('identifier', '=', who.identifier)
    .executeTakeFirst();
  if (existing) return { type: 'auth', userId: Number(existing.user_id) };
  if (me) return { type: 'link', userId: me.id };
  const mode = source.user_matching_mode as UserMatchingMode;
  if (mode === 'identifier') return { type: 'enroll' };
  const property = mode.startsWith('email') ? 'email' : 'username';
  const value = who.properties[property];
  // authentik: "Refusing to use none property"
  if (typeof value !== 'string' || value === '') return { type: 'deny', missing: property };
  const match = await svc.db.selectFrom('users').select('id').where(property, '=', value).orderBy('id').executeTakeFirst();
  if (!match) return { type: 'enroll' };
  return mode.endsWith('_link') ? { type: 'link', userId: Number(match.id) } : { type: 'deny' };
}

/** authentik's Source.get_user_path: the template with `%(slug)s` filled in; authentik's default path if it does not format */
export function userPathOf(source: { user_path_template: string; slug: string }): string {
  const filled = source.user_path_template.replace(/%\(slug\)s/g, source.slug);
  return /%[(a-z]/i.test(filled) || filled === '' ? 'users' : filled;
}

/**
 * Decides and starts the source's flow on the request's session. `next` is where the person was going (a relative
 * URL): the flow ends there, else on the user interface.
 */
export async function sourceFlow(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  session: Session,
  source: SourcesTable & { group_matching_mode?: string },
  who: Vouched,
  next: string | undefined,
): Promise<SourceAnswer> {
  const me =
    session.userId !== null ? await svc.db.selectFrom('users').selectAll().where('id', '=', session.userId).executeTakeFirst() : undefined;
  const loggedIn = me?.is_active ? me : undefined;
  const action = await decide(svc, source, who, loggedIn);
  const denied = `Request to authenticate with ${source.name} has been denied. Please authenticate with the source you've previously signed up with.`;
  // a flow a source stage suspended for this source (suspended-flow.ts)
  const noted = suspendedFlow(session);
  const suspended = noted?.source === source.source_uuid ? noted : undefined;
  const resumed = async (extra: Partial<FlowContext> = {}): Promise<SourceAnswer | undefined> => {
    const r = await resumeSuspendedFlow(svc, session, extra);
    if (!('to' in r)) return undefined;
    await svc.sessions.save(session, req, reply);
    return { type: 'flow', to: r.to };
  };
  if (action.type === 'deny') {
    // the source stage's `resume_on_match_failures`: the flow goes on without the source's login
    if (action.missing && suspended?.resumeOn.includes('missing_property')) {
      const failure = { reason: 'missing_property' as const, property: action.missing, source_slug: source.slug };
      const answer = await resumed({ sourceMatchFailure: failure });
      if (answer) return answer;
    }
    return { type: 'denied', message: denied };
  }

  const connection = { source: source.source_uuid, identifier: who.identifier, accessToken: who.accessToken, expires: who.expires };
  // someone logged in connects this identity to their account: no flow (authentik's handle_existing_link)
  if (action.type === 'link' && loggedIn && action.userId === loggedIn.id) {
    const linked = await linkConnection(svc, loggedIn, connection, req.ip);
    if (!linked) return { type: 'bad_request', message: `This account is already connected to ${source.name}.` };
    return (suspended && (await resumed())) || { type: 'linked' };
  }

  const enrol = action.type === 'enroll';
  const flow = await flowByUuid(svc, enrol ? source.enrollment_flow : source.authentication_flow);
  if (!flow)
    return { type: 'bad_request', message: enrol ? 'Source is not configured for enrollment.' : 'Configured flow does not exist.' };
  let pendingUser: FlowContext['pendingUser'];
  if (!enrol) {
    const u = await svc.db
      .selectFrom('users')
      .select(['id', 'username', 'email', 'name', 'is_active'])
      .where('id', '=', action.userId)
      .executeTakeFirst();
    if (!u?.is_active) return { type: 'denied', message: denied };
    pendingUser = { id: Number(u.id), username: u.username, email: u.email, name: u.name };
  }
  const context: FlowContext = {
    ...(pendingUser ? { pendingUser } : {}),
    promptData: { ...who.properties },
    source: {
      pk: source.source_uuid,
      slug: source.slug,
      name: source.name,
      ...(who.policy?.providerType ? { provider_type: who.policy.providerType } : {}),
    },
    ...(who.policy?.context && JSON.stringify(who.policy.context).length <= MAX_POLICY_CONTEXT_BYTES
      ? { sourcePolicyContext: who.policy.context }
      : {}),
    sourceConnection: connection,
    userPath: userPathOf(source),
    sourceGroups: { groups: who.groups, mode: source.group_matching_mode ?? 'identifier' },
    // authentik's SESSION_KEY_SOURCE_FLOW_CONTEXT: the flow the source stage came from
    ...(suspended ? { isRedirected: { pk: suspended.flowUuid, slug: suspended.slug } } : {}),
  };
  let refusal: string[] = [];
  const started = await startFlow(
    svc,
    flow,
    {
      ...(loggedIn ? { user: loggedIn } : {}),
      context,
      // biome-ignore lint/suspicious/noThenProperty: startFlow's continuation (flows/engine/start.ts), not a thenable
      then: next ?? '/if/user/',
      amend: (plan) => {
        if (!plan.bindings.some((b) => b.kind === POST_SOURCE.kind)) plan.bindings.push(postSourceBinding());
        // last, once the connection is stored: back to the suspended flow
        if (suspended) plan.bindings.push(resumeBinding());
      },
      session,
      denied: (messages) => {
        refusal = messages;
      },
    },
    req,
    reply,
  );
  // the policies' own messages, as the flow interface shows them (authentik's AccessDeniedResponse of the source)
  if (!started) return { type: 'denied', message: refusal.join('\n') || 'Flow does not apply to current user.' };
  return { type: 'flow', to: `/if/flow/${encodeURIComponent(flow.slug)}/` };
}

/** the source a connection was to be stored for is gone (deleted meanwhile): a 404 where nothing catches it */
export class SourceGone extends NotFound {
  constructor() {
    super('No Source matches the given query.');
  }
}

/**
 * the source's row still there, held until the transaction ends (PostgreSQL: FOR KEY SHARE, so its deletion waits
 * for this write, or went first); SourceGone otherwise
 */
export async function holdSource(tx: Transaction<Database>, source: string): Promise<void> {
  const q = tx.selectFrom('sources').select('source_uuid').where('source_uuid', '=', source);
  if (!(await holding(tx, q, 'key share').executeTakeFirst())) throw new SourceGone();
}

/**
 * stores a connection for `user`; false when the user is already connected to this source with another identity;
 * SourceGone when the source was deleted since the person started (the flow that stores it may run for hours)
 */
export async function linkConnection(
  svc: Services,
  user: { id: number; username: string; email: string },
  c: NonNullable<FlowContext['sourceConnection']>,
  clientIp: string,
): Promise<boolean> {
  const now = new Date().toISOString();
  return svc.db.transaction().execute(async (tx) => {
    await holdSource(tx, c.source);
    const mine = await tx
      .selectFrom('user_source_connections')
      .select(['id', 'identifier'])
      .where('user_id', '=', user.id)
      .where('source_uuid', '=', c.source)
      .executeTakeFirst();
    if (mine && mine.identifier !== c.identifier) return false;
    if (mine) {
      await tx
        .updateTable('user_source_connections')
        .set({ access_token: c.accessToken, expires: c.expires, last_updated: now })
        .where('id', '=', mine.id)
        .execute();
      return true;
    }
    const made = await tx
      .insertInto('user_source_connections')
      .values({
        user_id: user.id,
        source_uuid: c.source,
        identifier: c.identifier,
        access_token: c.accessToken,
        expires: c.expires,
        created: now,
        last_updated: now,
      } as never)
      // (any unique key: the identity, or this user's one connection to the source, made by a parallel callback)
      .onConflict((oc) => oc.doNothing())
      .returning('id')
      .executeTakeFirst();
    if (!made) {
      // the identity is someone's already (a parallel callback): linked only if it is this user's
      const owner = await tx
        .selectFrom('user_source_connections')
        .select('user_id')
        .where('source_uuid', '=', c.source)
        .where('identifier', '=', c.identifier)
        .executeTakeFirst();
      return Number(owner?.user_id) === user.id;
    }
    await svc.events.emit(
      'source_linked',
      {
        user: { pk: user.id, username: user.username, email: user.email },
        clientIp,
        context: { message: 'Linked Source', source: c.source },
      },
      tx,
    );
    return true;
  });
}

/** an HTML page for the source's refusals (authentik's AccessDeniedResponse and bad_request_message) */
export function sendSourcePage(reply: FastifyReply, status: 400 | 403 | 404, title: string, message: string) {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .send(
      `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
        `<body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main></body></html>`,
    );
}
