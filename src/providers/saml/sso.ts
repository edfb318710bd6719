/**
 * Single sign-on at authentik's URLs (authentik/providers/saml/views/sso.py, unified.py), as steps:
 *
 *   provider (the application's) → request (the binding's AuthnRequest, or none: IdP-initiated) → loggedIn (else the
 *   login, back here after) → applicationAccess → startAuthorizationFlow → fulfil (the Response, by the SP binding)
 *
 * The provider's authorization flow runs through `startFlow` with authentik's consent context; the parsed request
 * waits in the session (src/providers/pending.ts) under a random key that only the flow's continuation names
 * (/application/saml/<slug>/sso/fulfil/<key>/). A flow with nothing to ask is fulfilled at once, in the same answer.
 * A POST-binding request met by someone not logged in is carried to the login and back in the continuation's query
 * (authentik keeps the POST body in the session instead). The SP's POST is cross-site, so the browser sends it
 * without Keystage's session cookie (SameSite=Lax): it is posted again once from Keystage's own origin, with it
 * (incoming.ts).
 */
import { deflateRawSync } from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { UsersTable } from '../../db/types.js';
import type { Services } from '../../services.js';
import { sendFormPost } from '../../ui/form-post.js';
import { sendBadRequestPage, sendPermissionDenied } from '../../ui/bad-request.js';
import { applicationAllows, applicationRef } from '../../applications/access.js';
import { toLogin } from '../../flows/browser/to-login.js';
import { flowByUuid } from '../../flows/store.js';
import { baseUrlOf } from '../../rest/http.js';
import { lastLogins } from '../../events/logins.js';
import { pemsOf } from '../../crypto/keys.js';
import { randomId } from '../../saml/constants.js';
import { SamlError } from '../../saml/xml.js';
import { formOf } from '../../rest/form.js';
import { type AuthnRequest, idpInitiated, parseAuthnRequest } from './authn-request.js';
import { incomingOf, refuse, relayCrossSitePost, verifierOf } from './incoming.js';
import { type AssertionInput, buildResponse, classRefOfLogin, type KeyPems, nameIdText } from './assertion.js';
import { attributesFor, mappingValue, samlMappingById } from './attributes.js';
import { pyStr } from '../../expressions/py-str.js';
import { type SamlProvider, samlProviderByAppSlug } from './config.js';
import { issuerOf } from './urls.js';
import { uidOf } from '../../users/render.js';
import { recordSession } from './sessions.js';
import { type PendingBase, startAuthorization, takePending } from '../pending.js';

const PENDING_PREFIX = 'saml:sso:';
const NOT_FOUND = '<h1>Not Found</h1>';

interface Pending extends PendingBase {
  request: AuthnRequest;
}

export type Binding = 'redirect' | 'post' | 'init';

/** the request of the binding (incoming.ts) */
async function requestOf(svc: Services, req: FastifyRequest, provider: SamlProvider, binding: Binding): Promise<AuthnRequest> {
  if (binding === 'init') return idpInitiated(provider);
  return parseAuthnRequest(provider, incomingOf(req, binding), binding, await verifierOf(svc, provider));
}

export async function ssoEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply, binding: Binding) {
  const slug = (req.params as { slug: string }).slug;
  const provider = await samlProviderByAppSlug(svc, slug);
  if (!provider || !provider.application) return reply.code(404).type('text/html').send(NOT_FOUND);
  const relayed = relayCrossSitePost(svc, req, reply, `Signing in to ${provider.application.name}...`);
  if (relayed) return relayed;
  let request: AuthnRequest;
  try {
    request = await requestOf(svc, req, provider, binding);
  } catch (e) {
    if (!(e instanceof SamlError)) throw e;
    return refuse(svc, req, reply, provider, e);
  }
  const me = await svc.sessions.user(req);
  if (!me) {
    // (a POST's request comes back by GET, in the query)
    let next = req.url;
    if (req.method === 'POST') {
      const form = formOf(req);
      const q = new URLSearchParams({ SAMLRequest: form.SAMLRequest ?? '' });
      if (form.RelayState !== undefined) q.set('RelayState', form.RelayState);
      next = `${req.url.split('?')[0]}?${q}`;
    }
    return toLogin(svc, req, reply, { flow: provider.authentication_flow, application: provider.application, next });
  }
  const app = provider.application;
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
    fulfilPath: (key) => `/application/saml/${encodeURIComponent(slug)}/sso/fulfil/${key}/`,
  });
  if (started === 'done') return fulfil(svc, req, reply, provider, me, request);
  if (started === 'denied') return sendPermissionDenied(reply);
  return started;
}

/** /application/saml/<slug>/sso/fulfil/<key>/: the flow is done — answer the service provider */
export async function fulfilEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const { slug, key } = req.params as { slug: string; key: string };
  const me = await svc.sessions.user(req);
  const session = await svc.sessions.load(req);
  const pending = takePending<Pending>(session, PENDING_PREFIX, key, me?.user.id);
  if (!pending || !me) return sendBadRequestPage(reply, 'This SAML request is unknown, expired or already completed.', 'Invalid request');
  await svc.sessions.save(session, req, reply);
  const provider = await samlProviderByAppSlug(svc, slug);
  if (!provider || provider.id !== pending.provider || !provider.application) return reply.code(404).type('text/html').send(NOT_FOUND);
  return fulfil(svc, req, reply, provider, me, pending.request);
}

/** a mapping's value as text, by its pk (the NameID and AuthnContextClassRef mappings); undefined: none or it failed */
async function mappedText(svc: Services, pm: string | null, call: Parameters<typeof mappingValue>[2]): Promise<string | undefined> {
  if (!pm) return undefined;
  const mapping = await samlMappingById(svc, pm);
  if (!mapping) return undefined;
  const r = await mappingValue(svc, mapping, call);
  return r && r.value !== null && r.value !== undefined ? pyStr(r.value) : undefined;
}

/**
 * what the assertion for this person says (authentik's AssertionProcessor): the NameID, the class reference, the
 * attributes, the issuer (`issuer`: the caller's entity ID, else the provider's) and its keys; the Response's and a
 * WS-Federation token's
 */
export async function assertionInputFor(
  svc: Services,
  req: FastifyRequest,
  provider: SamlProvider,
  me: { user: UsersTable; sessionKey: string },
  request: AuthnRequest,
  issuerOverride?: string,
): Promise<{
  input: AssertionInput;
  signing?: KeyPems;
  encryption?: KeyPems;
  /** the AuthnContextClassRef mapping's value, and how the person logged in (SAML 1.1's AuthenticationMethod) */
  mappedClass: string | undefined;
  loginMethod: string | undefined;
}> {
  const call = { user: me.user, request: req, provider };
  const [login] = await lastLogins(svc.db, svc.dialect, me.user, 1);
  let context: Parameters<typeof classRefOfLogin>[0];
  try {
    context = login ? JSON.parse(login.context) : undefined;
  } catch {
    context = undefined;
  }
  let attributes: Record<string, unknown> = {};
  try {
    attributes = JSON.parse(me.user.attributes || '{}');
  } catch {}
  const nameId = nameIdText({
    format: request.name_id_policy,
    uid: uidOf(me.user.id, svc.installId),
    email: me.user.email,
    attributes,
    sessionKey: me.sessionKey,
    mapped: await mappedText(svc, provider.name_id_mapping, call),
  });
  const base = baseUrlOf(req, svc.config);
  const signing = provider.signing_kp ? await pemsOf(svc, provider.signing_kp) : undefined;
  const encryption = provider.encryption_kp ? await pemsOf(svc, provider.encryption_kp) : undefined;
  if ((provider.signing_kp && !signing?.privateKeyPem) || (provider.encryption_kp && !encryption?.certificatePem))
    throw new SamlError('The provider’s key pair is not usable.');
  const issuer = issuerOverride ?? issuerOf(provider, base, provider.application?.slug ?? null);
  const mappedClass = await mappedText(svc, provider.authn_context_class_ref_mapping, call);
  return {
    input: {
      provider,
      request,
      issuer,
      nameId,
      classRef: mappedClass ?? classRefOfLogin(context),
      attributes: await attributesFor(svc, call),
      authnInstant: login ? new Date(login.created) : new Date(),
      sessionIndex: randomId(),
    },
    ...(signing ? { signing } : {}),
    ...(encryption ? { encryption } : {}),
    mappedClass,
    loginMethod: context?.auth_method,
  };
}

/** the Response for this person (authentik's AssertionProcessor), unencoded, and the session it opens */
export async function responseFor(
  svc: Services,
  req: FastifyRequest,
  provider: SamlProvider,
  me: { user: UsersTable; sessionKey: string },
  request: AuthnRequest,
): Promise<{ xml: string; nameId: string; issuer: string; sessionIndex: string }> {
  const { input, signing, encryption } = await assertionInputFor(svc, req, provider, me, request);
  const xml = await buildResponse(input, { ...(signing ? { signing } : {}), ...(encryption ? { encryption } : {}) });
  return { xml, nameId: input.nameId, issuer: input.issuer, sessionIndex: input.sessionIndex };
}

async function fulfil(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  provider: SamlProvider,
  me: { user: UsersTable; sessionKey: string },
  request: AuthnRequest,
) {
  const app = provider.application!;
  let answer: Awaited<ReturnType<typeof responseFor>>;
  try {
    answer = await responseFor(svc, req, provider, me, request);
  } catch (e) {
    if (e instanceof SamlError) return sendBadRequestPage(reply, e.message);
    throw e;
  }
  const { xml } = answer;
  // the session the service provider now holds: ended with this one (slo.ts)
  await recordSession(svc, provider, me, request.name_id_policy, answer);
  await svc.events.emit('authorize_application', {
    user: { pk: me.user.id, username: me.user.username, email: me.user.email },
    req,
    context: { authorized_application: applicationRef(app) },
  });
  if (provider.sp_binding === 'post') {
    const attrs: Record<string, string> = { SAMLResponse: Buffer.from(xml, 'utf8').toString('base64') };
    if (request.relay_state) attrs.RelayState = request.relay_state;
    return sendFormPost(reply, provider.acs_url, attrs, `Redirecting to ${app.name}...`);
  }
  const q = new URLSearchParams({ SAMLResponse: deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64') });
  if (request.relay_state) q.set('RelayState', request.relay_state);
  return reply.redirect(`${provider.acs_url}${provider.acs_url.includes('?') ? '&' : '?'}${q}`, 302);
}
