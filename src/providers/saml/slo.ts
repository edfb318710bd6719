/**
 * Single logout (authentik's SPInitiatedSLOView and its IdP-initiated logout), both ways:
 *
 * - a service provider's LogoutRequest (/slo/binding/redirect/, /slo/binding/post/, or the unified endpoint): checked
 *   as an AuthnRequest is, then the provider's invalidation flow (else the brand's) runs with the session's end
 *   appended (authentik's SessionEndStage), and Keystage's LogoutResponse goes to the SLS URL by the provider's logout
 *   method: in an iframe before the session ends (`frontchannel_iframe`), posted by the server (`backchannel`), or
 *   as where the person goes when the flow is done (`frontchannel_native`);
 * - a Keystage session ending by logout: each service provider that got a Response in it is sent a LogoutRequest for
 *   its session (NameID, SessionIndex) — by the server itself (`backchannel`, the POST binding), in the logout
 *   flow's iframes (`frontchannel_iframe`: the redirect binding's URL, or for the POST binding a Keystage page that
 *   posts it), or by the browser going there itself and coming back (`frontchannel_native`:
 *   stages/native-logout/).
 */
import { planApplication } from '../../flows/engine/context.js';
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import type { FlowsTable } from '../../db/types.js';
import { pemsOf } from '../../crypto/keys.js';
import { startFlow } from '../../flows/engine/start.js';
import { formOf, queryOf } from '../../rest/form.js';
import { baseUrlOf } from '../../rest/http.js';
import type { SigningPair } from '../../saml/redirect-binding.js';
import { SamlError } from '../../saml/xml.js';
import type { Services } from '../../services.js';
import { sendFormPost } from '../../ui/form-post.js';
import { IFRAME_LOGOUT_KIND, insertIframeLogout, type LogoutURL } from '../oauth2/index.js';
import { type SamlProvider, samlProviderByAppSlug, samlProviderById } from './config.js';
import { type LogoutRequest, logoutRequestXml, logoutResponseXml, outgoing, type Outgoing, parseLogoutRequest } from './logout.js';
import { incomingOf, refuse, relayCrossSitePost, verifierOf } from './incoming.js';
import { takeSessions } from './sessions.js';
import { appendSessionEnd } from './stages/session-end.js';
import { insertNativeLogout, type NativeLogout } from './stages/native-logout/index.js';
import { inflateRawSync } from 'node:zlib';
import { issuerOf } from './urls.js';

const NOT_FOUND = '<h1>Not Found</h1>';

/** the provider's invalidation flow, else the brand's (authentik's rule: none is a 404) */
async function invalidationFlowOf(svc: Services, req: FastifyRequest, provider: SamlProvider): Promise<FlowsTable | undefined> {
  const uuid = provider.invalidation_flow ?? (await svc.brand(req.host)).flows.flow_invalidation;
  if (!uuid) return undefined;
  return (await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', uuid).executeTakeFirst()) as FlowsTable | undefined;
}

/** the pair Keystage signs a logout message with, when the provider says so */
async function signingOf(svc: Services, provider: SamlProvider, sign: boolean): Promise<SigningPair | undefined> {
  if (!sign || !provider.signing_kp) return undefined;
  const p = await pemsOf(svc, provider.signing_kp);
  return p?.privateKeyPem ? p : undefined;
}

/** a message as a URL the browser can be sent to: the redirect binding's, or Keystage's page posting it */
function browserUrl(slug: string, o: Outgoing): string {
  if ('redirect' in o) return o.redirect;
  return `/application/saml/${encodeURIComponent(slug)}/slo/relay/?${new URLSearchParams(o.post.fields)}`;
}

export async function sloEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply, binding: 'redirect' | 'post') {
  const slug = (req.params as { slug: string }).slug;
  const provider = await samlProviderByAppSlug(svc, slug);
  if (!provider || !provider.application) return reply.code(404).type('text/html').send(NOT_FOUND);
  const relayed = relayCrossSitePost(svc, req, reply, 'Logging out...');
  if (relayed) return relayed;
  let request: LogoutRequest;
  try {
    request = parseLogoutRequest(provider, incomingOf(req, binding), binding, await verifierOf(svc, provider));
  } catch (e) {
    if (!(e instanceof SamlError)) throw e;
    return refuse(svc, req, reply, provider, e);
  }
  const me = await svc.sessions.user(req);
  // this service provider ended its own session: it is not asked again
  if (me) await svc.db.deleteFrom('saml_sessions').where('session_id', '=', me.sessionKey).where('provider_id', '=', provider.id).execute();
  const flow = await invalidationFlowOf(svc, req, provider);
  if (!flow) return reply.code(404).type('text/html').send(NOT_FOUND);
  // the LogoutResponse, delivered by the provider's logout method (authentik's SPInitiatedSLOView)
  let answer: Outgoing | undefined;
  if (provider.sls_url) {
    const xml = logoutResponseXml({
      issuer: issuerOf(provider, baseUrlOf(req, svc.config), slug),
      destination: provider.sls_url,
      inResponseTo: request.id,
    });
    answer = outgoing(provider, xml, 'SAMLResponse', request.relay_state, await signingOf(svc, provider, provider.sign_logout_response));
  }
  const method = provider.logout_method;
  // backchannel: the server posts it; the person stays
  if (answer && method === 'backchannel') await postBackchannel(req.log, provider, postFields(answer));
  // frontchannel_native: the person is sent on with it once the flow is done
  const then = answer && method === 'frontchannel_native' ? browserUrl(slug, answer) : undefined;
  // nobody logged in here: nothing to end — the service provider still gets its answer, in the browser
  const answerInBrowser = answer && method !== 'backchannel' ? browserUrl(slug, answer) : undefined;
  if (!me) return reply.redirect(answerInBrowser ?? '/', 302);
  const app = provider.application;
  const started = await startFlow(
    svc,
    flow,
    {
      user: me.user,
      context: { application: planApplication(app) },
      ...(then ? { then } : {}),
      amend: (plan) => {
        // frontchannel_iframe (the default): loaded in an iframe, before the session ends
        if (answer && method === 'frontchannel_iframe')
          insertIframeLogout(
            plan,
            [{ url: browserUrl(slug, answer), provider_name: provider.name, binding: provider.sls_binding }],
            plan.bindings.length,
          );
        appendSessionEnd(plan);
      },
    },
    req,
    reply,
  );
  if (!started) return reply.redirect(answerInBrowser ?? '/', 302);
  return reply.redirect(`/if/flow/${encodeURIComponent(flow.slug)}/`, 302);
}

/**
 * a LogoutResponse at the SLO endpoints: a service provider answering Keystage's logout request (the native front
 * channel) — on to its RelayState when that is on Keystage or the service provider's own site, else to Keystage's root
 */
export async function logoutResponseEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await samlProviderByAppSlug(svc, (req.params as { slug: string }).slug);
  const relay = (req.method === 'POST' ? formOf(req) : queryOf(req)).RelayState ?? '';
  const base = baseUrlOf(req, svc.config);
  const allowed = new Set([new URL(base).origin]);
  for (const u of [provider?.sls_url, provider?.acs_url])
    try {
      if (u) allowed.add(new URL(u).origin);
    } catch {}
  // (resolved as a browser resolves it: `//host` and `/\host` name another host)
  let target: URL | undefined;
  try {
    target = relay ? new URL(relay, `${base}/`) : undefined;
  } catch {}
  return reply.redirect(target && allowed.has(target.origin) ? target.href : '/', 302);
}

/** the page of the flow `flowUuid` (absolute: a service provider echoes it as its RelayState) */
async function flowPageOf(svc: Services, req: FastifyRequest, flowUuid: string): Promise<string | undefined> {
  const flow = await svc.db.selectFrom('flows').select('slug').where('flow_uuid', '=', flowUuid).executeTakeFirst();
  return flow && `${baseUrlOf(req, svc.config)}/if/flow/${encodeURIComponent(flow.slug)}/`;
}

/** a message's form fields, whichever binding it was made for (the back channel always posts) */
function postFields(o: Outgoing): Record<string, string> {
  if ('post' in o) return o.post.fields;
  const u = new URL(o.redirect);
  const fields: Record<string, string> = {};
  for (const k of ['SAMLRequest', 'SAMLResponse', 'RelayState']) {
    const v = u.searchParams.get(k);
    if (v !== null) fields[k] = k === 'RelayState' ? v : Buffer.from(inflateRawSync(Buffer.from(v, 'base64'))).toString('base64');
  }
  return fields;
}

/** /application/saml/<slug>/slo/relay/: a logout message posted to the provider's SLS URL (the POST binding) */
export async function relayEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const provider = await samlProviderByAppSlug(svc, (req.params as { slug: string }).slug);
  const q = queryOf(req);
  const message = q.SAMLRequest !== undefined ? 'SAMLRequest' : q.SAMLResponse !== undefined ? 'SAMLResponse' : undefined;
  if (!provider || !provider.sls_url || provider.sls_binding !== 'post' || !message)
    return reply.code(404).type('text/html').send(NOT_FOUND);
  const fields: Record<string, string> = { [message]: q[message]! };
  if (q.RelayState) fields.RelayState = q.RelayState;
  return sendFormPost(reply, provider.sls_url, fields, 'Logging out...', { framedBySelf: true });
}

/** authentik's back-channel logout: the LogoutRequest posted by the server (failures are logged) */
async function postBackchannel(log: Pick<FastifyBaseLogger, 'warn'>, provider: SamlProvider, fields: Record<string, string>) {
  try {
    const res = await fetch(provider.sls_url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields),
      signal: AbortSignal.timeout(10_000),
    });
    if (!res.ok) log.warn({ status: res.status, provider: provider.name }, 'SAML back-channel logout answered an error');
  } catch (err) {
    log.warn({ err, provider: provider.name }, 'SAML back-channel logout failed');
  }
}

/** when a Keystage session ends by logout, the service providers holding sessions from it are told */
export function endSamlSessionsWithSessions(svc: Services, log: FastifyBaseLogger) {
  svc.sessions.onLogout(async (sessionKey, session, req) => {
    // (the SAML providers' sessions: a WS-Federation provider's, kept in the same table, are its own listener's)
    const rows = await takeSessions(svc, sessionKey, 'samlprovider');
    if (!rows.length) return;
    const frontchannel: LogoutURL[] = [];
    const native: NativeLogout[] = [];
    const plan = session?.data.plan;
    // the native front channel's way back: the logout flow's page (where the service provider's answer goes on to)
    const back = plan && req ? await flowPageOf(svc, req, plan.flow_uuid) : undefined;
    const now = Date.now();
    for (const row of rows) {
      if (new Date(row.expires).getTime() <= now) continue;
      const provider = await samlProviderById(svc, Number(row.provider_id));
      if (!provider?.sls_url || !provider.application) continue;
      const xml = logoutRequestXml({
        issuer: row.issuer,
        destination: provider.sls_url,
        nameId: row.name_id,
        nameIdFormat: row.name_id_format,
        sessionIndex: row.session_index,
      });
      const signing = await signingOf(svc, provider, provider.sign_logout_request);
      if (provider.logout_method === 'frontchannel_native' && back) {
        const o = outgoing(provider, xml, 'SAMLRequest', back, signing);
        native.push(
          'redirect' in o
            ? { provider_name: provider.name, saml_binding: 'redirect', redirect_url: o.redirect }
            : {
                provider_name: provider.name,
                saml_binding: 'post',
                post_url: o.post.url,
                saml_request: o.post.fields.SAMLRequest,
                saml_relay_state: o.post.fields.RelayState,
              },
        );
        continue;
      }
      const o = outgoing(provider, xml, 'SAMLRequest', null, signing);
      if (provider.logout_method === 'backchannel' && 'post' in o) await postBackchannel(log, provider, o.post.fields);
      else
        frontchannel.push({ url: browserUrl(provider.application.slug, o), provider_name: provider.name, binding: provider.sls_binding });
    }
    if (!plan) return;
    // (the logout stage is still the plan's current binding: the iframes come right after it, then the native front
    // channel, which takes the browser away)
    if (frontchannel.length) insertIframeLogout(plan, frontchannel, 1);
    const iframes = plan.bindings.findIndex((b) => b.kind === IFRAME_LOGOUT_KIND);
    insertNativeLogout(plan, native, Math.max(iframes, 0));
  });
}
