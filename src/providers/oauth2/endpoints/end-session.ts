/**
 * GET/POST /application/o/<slug>/end-session/ (authentik's EndSessionView, RP-initiated logout): the request is
 * checked (protocol/end-session.ts: id_token_hint, post_logout_redirect_uri, state), the provider's back-channel
 * logout is sent to its logout_uri for this session (logout_method `backchannel`) — or its front-channel logout URL
 * is loaded in an iframe first thing in the flow (`frontchannel`) —, the user's access tokens of this provider and
 * session are deleted, and the provider's invalidation flow (else the default one) runs through
 * `startFlow`, ending at the post-logout redirect when one was asked for.
 */
import { planApplication } from '../../../flows/engine/context.js';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable } from '../../../db/types.js';
import { startFlow } from '../../../flows/engine/start.js';
import { flowByUuid } from '../../../flows/store.js';
import type { Services } from '../../../services.js';
import { type OAuth2Provider, oauth2ProviderByAppSlug } from '../config.js';
import { endSessionRequest, logoutTokenClaims } from '../protocol/end-session.js';
import { TokenError } from '../protocol/errors.js';
import { issuerOf, parseIdToken } from '../protocol/id-token.js';
import { encodeJwt, type ProviderKeys } from '../protocol/sign.js';
import { verificationKeyOf } from '../protocol/verify.js';
import { locationOf, originOf, paramsOf, sendBadRequestPage } from './http.js';
import { keysOf } from './keys.js';
import { frontchannelLogoutUrl } from '../protocol/frontchannel.js';
import { insertIframeLogout, type LogoutURL } from '../stages/iframe-logout/index.js';

const NOT_FOUND = '<h1>Not Found</h1>';

/** the provider's invalidation flow, else the brand's (authentik's EndSessionView); none: 404 */
async function invalidationFlowOf(svc: Services, req: FastifyRequest, provider: OAuth2Provider): Promise<FlowsTable | undefined> {
  return flowByUuid(svc, provider.invalidation_flow ?? (await svc.brand(req.host)).flows.flow_invalidation);
}

/** OpenID Connect Back-Channel Logout: POST the logout token to the provider's logout_uri (failures are logged) */
export async function sendBackchannelLogout(
  log: Pick<FastifyBaseLogger, 'warn'>,
  provider: OAuth2Provider,
  keys: ProviderKeys,
  claims: { iss?: string; sub?: string; sid?: string },
): Promise<void> {
  const token = await encodeJwt(logoutTokenClaims(claims.iss, provider.client_id, claims.sub, claims.sid), keys, 'logout+jwt');
  try {
    const res = await fetch(provider.logout_uri, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ logout_token: token }),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) log.warn({ status: res.status, provider: provider.name }, 'back-channel logout answered an error');
  } catch (err) {
    log.warn({ err, provider: provider.name }, 'back-channel logout failed');
  }
}

export async function endSessionEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await oauth2ProviderByAppSlug(svc, (req.params as { slug: string }).slug);
  if (!provider || !provider.application) return reply.code(404).type('text/html').send(NOT_FOUND);
  const flow = await invalidationFlowOf(svc, req, provider);
  if (!flow) return reply.code(404).type('text/html').send(NOT_FOUND);
  const keys = await keysOf(svc, provider);
  const origin = originOf(req, svc.config);
  let request: Awaited<ReturnType<typeof endSessionRequest>>;
  try {
    request = await endSessionRequest(paramsOf(req), provider, [verificationKeyOf(keys.signer)], issuerOf(provider, origin));
  } catch (e) {
    if (e instanceof TokenError) return sendBadRequestPage(reply, e.description);
    throw e;
  }
  const me = await svc.sessions.user(req);
  const frontchannel: LogoutURL[] = [];
  if (me) {
    const sid = me.sessionKey;
    const tokens = await svc.db
      .selectFrom('oauth2_access_tokens')
      .select(['id', 'id_token', 'session_id'])
      .where('user_id', '=', me.user.id)
      .where('provider_id', '=', provider.id)
      .execute();
    const ofSession = tokens.filter((t) => t.session_id === sid);
    if (provider.logout_method === 'backchannel' && provider.logout_uri && ofSession.length) {
      const id = parseIdToken(ofSession[0]!.id_token);
      await sendBackchannelLogout(req.log, provider, keys, { iss: id.iss, sub: id.sub, sid });
    }
    // front-channel: the provider's logout URL in an iframe before the invalidation flow's stages (authentik)
    const url =
      provider.logout_method === 'frontchannel' ? frontchannelLogoutUrl(provider.logout_uri, issuerOf(provider, origin), sid) : undefined;
    if (url) frontchannel.push({ url, provider_name: provider.name, binding: 'redirect' });
    const doomed = (ofSession.length ? ofSession : tokens).map((t) => t.id);
    if (doomed.length) await svc.db.deleteFrom('oauth2_access_tokens').where('id', 'in', doomed).execute();
  }
  const app = provider.application;
  const started = await startFlow(
    svc,
    flow,
    {
      ...(me ? { user: me.user } : {}),
      context: { application: planApplication(app) },
      // biome-ignore lint/suspicious/noThenProperty: startFlow's continuation (flows/engine/start.ts), not a thenable
      ...(request.postLogoutRedirectUri ? { then: request.postLogoutRedirectUri } : {}),
      amend: (plan) => insertIframeLogout(plan, frontchannel, 0),
    },
    req,
    reply,
  );
  if (!started) return reply.redirect(request.postLogoutRedirectUri ? locationOf(request.postLogoutRedirectUri) : '/', 302);
  return reply.redirect(`/if/flow/${encodeURIComponent(flow.slug)}/`, 302);
}
