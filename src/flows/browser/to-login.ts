/**
 * Someone not logged in asked for an application — an OAuth2 authorization, a SAML or WS-Federation sign-in, its
 * launch URL: the login flow (the provider's `authentication_flow`, else the brand's) is started with the application
 * in its context (authentik's PLAN_CONTEXT_APPLICATION, which authentik fills from the session's
 * `application_pre`): the identification stage says which application the login is for (`application_pre`), a title's
 * `%(app)s` names it, policies see `context['application']`. A login hint becomes the identifier typed. The person
 * comes back to `next` after. Without an application or hint, or when the flow does not apply, the browser goes to the
 * flow page as before, and nothing is written.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { type FlowContext, planApplication } from '../engine/context.js';
import { startFlow } from '../engine/start.js';
import { defaultFlow } from './urls.js';
import { flowByUuid } from '../store.js';

export interface LoginFor {
  /** the provider's authentication flow (its uuid), else the brand's */
  flow?: FlowsTable | string | null;
  /** the application the person is on their way to */
  application?: { pbm_uuid: string; slug: string; name: string } | null;
  /** an OAuth2 `login_hint`: the identifier, as if typed */
  loginHint?: string;
  /** where to after the login (default: this request's URL) */
  next?: string;
}

export async function toLogin(svc: Services, req: FastifyRequest, reply: FastifyReply, o: LoginFor) {
  const next = o.next ?? req.url;
  const named = typeof o.flow === 'string' ? await flowByUuid(svc, o.flow) : (o.flow ?? undefined);
  const page = (slug: string) => `/if/flow/${encodeURIComponent(slug)}/?next=${encodeURIComponent(next)}`;
  const plain = () => reply.redirect(named ? page(named.slug) : `/flows/-/default/authentication/?next=${encodeURIComponent(next)}`, 302);
  const context: FlowContext = {
    ...(o.application ? { application: planApplication(o.application) } : {}),
    ...(o.loginHint ? { pendingUserIdentifier: o.loginHint.slice(0, 254) } : {}),
  };
  if (Object.keys(context).length === 0) return plain();
  const flow = named ?? (await flowByUuid(svc, (await defaultFlow(svc, req, 'authentication'))?.flow_uuid));
  // biome-ignore lint/suspicious/noThenProperty: startFlow's continuation (flows/engine/start.ts), not a thenable
  if (!flow || !(await startFlow(svc, flow, { context, then: next }, req, reply))) return plain();
  return reply.redirect(page(flow.slug), 302);
}
