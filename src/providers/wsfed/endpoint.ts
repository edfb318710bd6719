/**
 * `/application/wsfed/` (authentik's WSFedEntryView), by `wa`:
 *
 *   wsignin1.0: provider (the one whose `wtrealm` is the request's) → wreply (the provider's `reply_url`, or under
 *   it) → loggedIn (else the login, back here after) → applicationAccess → the authorization flow (its
 *   continuation `/application/wsfed/fulfil/<key>/`; a flow with nothing to ask is fulfilled at once) → fulfil: the
 *   security token (token.ts) posted to `wreply` with `wa`, `wresult` and `wctx` by the auto-submitting page; the
 *   session the relying party opens is recorded (authentik's SAMLSession), for its `wsignoutcleanup1.0` at logout.
 *   wsignout1.0: the provider's invalidation flow (else the brand's) with the session's end, then on to `wreply`.
 *
 * `wreply` must be the reply URL or lie under it (the reply URL followed by `/`, `?` or `#`): authentik compares by
 * prefix only, which would let `https://app.example.com.evil.example` through for `https://app.example.com`.
 */
import { planApplication } from '../../flows/engine/context.js';
import { toLogin } from '../../flows/browser/to-login.js';
import { flowByUuid } from '../../flows/store.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { applicationAllows, applicationRef } from '../../applications/access.js';
import { startFlow } from '../../flows/engine/start.js';
import { queryOf } from '../../rest/form.js';
import { baseUrlOf } from '../../rest/http.js';
import { SamlError } from '../../saml/xml.js';
import type { Services } from '../../services.js';
import { sendBadRequestPage, sendPermissionDenied } from '../../ui/bad-request.js';
import { sendFormPost } from '../../ui/form-post.js';
import { type PendingBase, startAuthorization, takePending } from '../pending.js';
import { appendSessionEnd, assertionInputFor, recordSession } from '../saml/index.js';
import { type WsfedProvider, wsfedProviderById, wsfedProviderByRealm } from './config.js';
import { saml11Method, securityTokenResponse } from './token.js';

export const SIGN_IN = 'wsignin1.0';
export const SIGN_OUT = 'wsignout1.0';
const PENDING_PREFIX = 'wsfed:';
const NOT_FOUND = '<h1>Not Found</h1>';

interface SignIn {
  wtrealm: string;
  wreply: string;
  wctx: string;
}

interface Pending extends PendingBase {
  request: SignIn;
}

/** the entity ID of a WS-Federation provider: its metadata URL (what its metadata document names) */
export const wsfedIssuer = (base: string, slug: string) => `${base}/application/wsfed/${slug}/metadata/`;

/** `wreply` the reply URL itself, or a URL under it */
export function replyAllowed(wreply: string, replyUrl: string): boolean {
  if (!replyUrl) return false;
  if (wreply === replyUrl) return true;
  if (!wreply.startsWith(replyUrl)) return false;
  return replyUrl.endsWith('/') || ['/', '?', '#'].includes(wreply[replyUrl.length]!);
}

/** the request's provider and reply address, or why not */
async function parse(svc: Services, q: Record<string, string | undefined>): Promise<{ provider: WsfedProvider; request: SignIn } | string> {
  if (!q.wtrealm) return 'Invalid WS-Federation request';
  const provider = await wsfedProviderByRealm(svc, q.wtrealm);
  if (!provider?.application) return NOT_FOUND;
  const wreply = q.wreply || provider.acs_url;
  if (!replyAllowed(wreply, provider.acs_url)) return 'Invalid WS-Federation request';
  return { provider, request: { wtrealm: q.wtrealm, wreply, wctx: q.wctx ?? '' } };
}

export async function wsfedEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const q = queryOf(req);
  if (q.wa !== SIGN_IN && q.wa !== SIGN_OUT) return sendBadRequestPage(reply, 'Invalid WS-Federation action');
  const parsed = await parse(svc, q);
  if (parsed === NOT_FOUND) return reply.code(404).type('text/html').send(NOT_FOUND);
  if (typeof parsed === 'string') return sendBadRequestPage(reply, parsed);
  const { provider, request } = parsed;
  const app = provider.application!;
  const me = await svc.sessions.user(req);
  if (q.wa === SIGN_OUT) return signOut(svc, req, reply, provider, request, me);
  if (!me) return toLogin(svc, req, reply, { flow: provider.authentication_flow, application: app });
  const access = await applicationAllows(svc, provider, me.user, req, {});
  if (!access.passing) return sendPermissionDenied(reply, access.messages);
  const flow = await flowByUuid(svc, provider.authorization_flow);
  if (!flow) return sendBadRequestPage(reply, 'The provider has no authorization flow.', 'Flow not found');
  const session = await svc.sessions.load(req);
  const started = await startAuthorization(svc, req, reply, {
    flow,
    session,
    prefix: PENDING_PREFIX,
    pending: { provider: provider.id, user: me.user.id, request },
    user: me.user,
    app,
    permissions: [],
    fulfilPath: (key) => `/application/wsfed/fulfil/${key}/`,
  });
  if (started === 'done') return fulfil(svc, req, reply, provider, me, request);
  if (started === 'denied') return sendPermissionDenied(reply);
  return started;
}

/** /application/wsfed/fulfil/<key>/: the flow is done — the token goes to the relying party */
export async function wsfedFulfilEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const { key } = req.params as { key: string };
  const me = await svc.sessions.user(req);
  const session = await svc.sessions.load(req);
  const pending = takePending<Pending>(session, PENDING_PREFIX, key, me?.user.id);
  if (!pending || !me)
    return sendBadRequestPage(reply, 'This WS-Federation request is unknown, expired or already completed.', 'Invalid request');
  await svc.sessions.save(session, req, reply);
  const provider = await wsfedProviderById(svc, pending.provider);
  if (!provider?.application) return reply.code(404).type('text/html').send(NOT_FOUND);
  return fulfil(svc, req, reply, provider, me, pending.request);
}

async function fulfil(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  provider: WsfedProvider,
  me: NonNullable<Awaited<ReturnType<Services['sessions']['user']>>>,
  request: SignIn,
) {
  const app = provider.application!;
  let wresult: string;
  try {
    const made = await assertionInputFor(
      svc,
      req,
      provider,
      me,
      { id: null, relay_state: null, name_id_policy: provider.default_name_id_policy },
      wsfedIssuer(baseUrlOf(req, svc.config), app.slug),
    );
    wresult = await securityTokenResponse(
      provider,
      request.wtrealm,
      made.input,
      { ...(made.signing ? { signing: made.signing } : {}), ...(made.encryption ? { encryption: made.encryption } : {}) },
      saml11Method(made.mappedClass, made.loginMethod),
    );
    // the session the relying party now holds: told to clean up when this one ends by logout (logout.ts)
    await recordSession(svc, provider, me, provider.default_name_id_policy, made.input);
  } catch (e) {
    if (e instanceof SamlError) return sendBadRequestPage(reply, e.message);
    throw e;
  }
  await svc.events.emit('authorize_application', {
    user: { pk: me.user.id, username: me.user.username, email: me.user.email },
    req,
    context: { authorized_application: applicationRef(app) },
  });
  const attrs: Record<string, string> = { wa: SIGN_IN, wresult };
  if (request.wctx) attrs.wctx = request.wctx;
  return sendFormPost(reply, request.wreply, attrs, `Redirecting to ${app.name}...`);
}

/** wsignout1.0: the invalidation flow ends the session, then the relying party's reply address */
async function signOut(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  provider: WsfedProvider,
  request: SignIn,
  me: Awaited<ReturnType<Services['sessions']['user']>>,
) {
  if (!me) return reply.redirect(request.wreply, 302);
  const flow = await flowByUuid(svc, provider.invalidation_flow ?? (await svc.brand(req.host)).flows.flow_invalidation);
  if (!flow) return reply.code(404).type('text/html').send(NOT_FOUND);
  const app = provider.application!;
  const started = await startFlow(
    svc,
    flow,
    {
      user: me.user,
      context: { application: planApplication(app) },
      // biome-ignore lint/suspicious/noThenProperty: startFlow's continuation (flows/engine/start.ts), not a thenable
      then: request.wreply,
      amend: (plan) => appendSessionEnd(plan),
    },
    req,
    reply,
  );
  if (!started) return reply.redirect(request.wreply, 302);
  return reply.redirect(`/if/flow/${encodeURIComponent(flow.slug)}/`, 302);
}
