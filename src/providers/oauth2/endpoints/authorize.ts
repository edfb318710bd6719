/**
 * GET/POST /application/o/authorize/ (authentik's AuthorizationFlowInitView) and its fulfilment, as steps:
 *
 *   params (authorize-params.ts: client → redirectUri → grant → scope → nonce → codeChallenge → requestObject)
 *   → learnRedirectUri → promptNone → idTokenHint → loggedIn (login_hint) → maxAge / promptLogin → applicationAccess
 *   → startAuthorizationFlow (prompt=consent)
 *
 * The provider's authorization flow runs through `startFlow` with authentik's consent context (application,
 * consent_header, consent_permissions); with `prompt=consent` and no consent stage in it, authentik's in-memory
 * consent stage (always asks) is appended. The request waits in the session under a random key that only the
 * flow's continuation (`then`, revealed when the plan is done) names: /application/o/authorize/fulfil/<key>/
 * issues the code or tokens (authentik's OAuthFulfillmentStage) and answers by query, fragment or form_post. A flow
 * with nothing to ask (no stages once planned: authentik's implicit-consent flow) is done at once, and the request
 * is fulfilled here, in the same answer: the browser goes straight back to the client instead of through the flow
 * page and the fulfilment URL, with the same outcome (the flow planned, its policies applied, the same code/tokens,
 * the same `authorize_application` event).
 */
import { randomUUID } from 'node:crypto';
import { sendFormPost } from '../../../ui/form-post.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { invalidateAdminCache } from '../../../db/admin-cache.js';
import { lockConfigEpoch } from '../../../db/config-epoch.js';
import { assertRedirectUri } from '../protocol/redirect-uri.js';
import type { UsersTable } from '../../../db/types.js';
import type { Services } from '../../../services.js';
import { type OAuth2Provider, oauth2ProviderByClientId, oauth2ProviderById } from '../config.js';
import { type AuthorizeParams, authorizeParams, policyContextOf } from '../protocol/authorize-params.js';
import {
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_HYBRID,
  PROMPT_CONSENT,
  PROMPT_LOGIN,
  PROMPT_NONE,
  RESPONSE_TYPE_CODE_ID_TOKEN,
  RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN,
  RESPONSE_TYPE_CODE_TOKEN,
  RESPONSE_TYPE_ID_TOKEN_TOKEN,
  TOKEN_TYPE,
} from '../protocol/constants.js';
import { AuthorizeError, ClientIdError, RedirectUriError, TokenError } from '../protocol/errors.js';
import { atHash, cHash } from '../protocol/hashes.js';
import { amrOf, idTokenClaims, issuerOf, subjectOf } from '../protocol/id-token.js';
import { authorizationResponse, type ResponseValues } from '../protocol/responses.js';
import { encodeJwt } from '../protocol/sign.js';
import { insertAccessToken, insertCode } from '../tokens/store.js';
import { applicationAllows, applicationRef } from '../../../applications/access.js';
import { toLogin } from '../../../flows/browser/to-login.js';
import { flowByUuid } from '../../../flows/store.js';
import { mappingsOf, scopeNamesOf } from './claims.js';
import { locationOf, originOf, paramsOf, sendBadRequestPage } from './http.js';
import { durationMs, type GrantBase, mintAccessToken } from './issue.js';
import { keysOf } from './keys.js';
import { lastLoginOf } from './login-event.js';
import { endSessionRequest } from '../protocol/end-session.js';
import { verificationKeyOf } from '../protocol/verify.js';
import { inMemoryBinding, PROMPT_CONSENT_STAGE } from '../stages/in-memory.js';
import { type PendingBase, startAuthorization, takePending } from '../../pending.js';
import { sendPermissionDenied } from '../../../ui/bad-request.js';

/** the consent stage type's kind (a flow with one needs no in-memory consent) */
const CONSENT_KIND = 'consentstage';

const PENDING_PREFIX = 'oauth2:authorize:';
const LAST_LOGIN_KEY = 'oauth2:last_login_uid';

interface Pending extends PendingBase {
  params: Omit<AuthorizeParams, 'scope' | 'prompt'> & { scope: string[]; prompt: string[] };
}

/**
 * `id_token_hint` with `prompt=none` (OpenID Connect Core §3.1.2.1): the client expects the person its ID token
 * names; someone else logged in is `login_required`. A hint that is not one of this provider's ID tokens is ignored.
 */
async function hintNamesSomeoneElse(svc: Services, req: FastifyRequest, provider: OAuth2Provider, hint: string, user: UsersTable) {
  const keys = await keysOf(svc, provider);
  try {
    const r = await endSessionRequest(
      { id_token_hint: hint },
      provider,
      [verificationKeyOf(keys.signer)],
      issuerOf(provider, originOf(req, svc.config)),
    );
    return typeof r.hint?.sub === 'string' && r.hint.sub !== subjectOf(provider.sub_mode, user, svc.installId);
  } catch (e) {
    if (e instanceof TokenError) return false;
    throw e;
  }
}

function sendAuthorizeError(reply: FastifyReply, e: AuthorizeError) {
  const r = e.response();
  return 'redirect' in r ? reply.redirect(locationOf(r.redirect), 302) : sendBadRequestPage(reply, r.page.description, r.page.title);
}

/** the provider's mappings' descriptions of the requested scopes (authentik's get_scope_descriptions) */
export async function permissionsOf(svc: Services, provider: OAuth2Provider, scope: Set<string>) {
  return (await mappingsOf(svc, provider)).filter((m) => scope.has(m.scope_name)).map((m) => ({ id: m.scope_name, name: m.description }));
}

/**
 * learnRedirectUri: a provider without authorization redirect URIs keeps the first one used, strictly (authentik).
 * Under the admin-write lock (a configuration write, as an administrator's), over the URIs as they are then: of two
 * first authorizations at once, or one beside an administrator's edit, neither write is lost; a URI learned or set
 * meanwhile is the one this request must match (else RedirectUriError)
 */
async function learnRedirectUri(svc: Services, provider: OAuth2Provider, uri: string) {
  await svc.db.transaction().execute(async (tx) => {
    await lockConfigEpoch(tx);
    const row = await tx.selectFrom('provider_oauth2').select('redirect_uris').where('provider_id', '=', provider.id).executeTakeFirst();
    const current = (row ? JSON.parse(row.redirect_uris as string) : provider.redirect_uris) as OAuth2Provider['redirect_uris'];
    // (as config.ts reads them: an entry not marked `logout` is an authorization one)
    const entries = current
      .filter((e) => e.redirect_uri_type !== 'logout')
      .map((e) => ({
        matching_mode: e.matching_mode === 'regex' ? ('regex' as const) : ('strict' as const),
        url: e.url,
        redirect_uri_type: 'authorization' as const,
      }));
    if (entries.length) return assertRedirectUri(uri, entries);
    const uris = [...current, { matching_mode: 'strict' as const, url: uri, redirect_uri_type: 'authorization' as const }];
    await tx
      .updateTable('provider_oauth2')
      .set({ redirect_uris: JSON.stringify(uris) } as never)
      .where('provider_id', '=', provider.id)
      .execute();
  });
  invalidateAdminCache(svc.db);
}

export async function authorizeEndpoint(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  /** `githubCompat`: asked at GitHub's URL, /login/oauth/authorize (github.ts) */
  opts: { githubCompat?: boolean } = {},
) {
  const q = paramsOf(req);
  if (Object.keys(q).length < 1) return reply.code(404).type('text/html').send('<h1>Not Found</h1>');
  const provider = q.client_id ? await oauth2ProviderByClientId(svc, q.client_id) : undefined;
  let params: AuthorizeParams;
  try {
    params = authorizeParams(q, provider, provider ? await scopeNamesOf(svc, provider) : new Set(), opts);
  } catch (e) {
    if (e instanceof ClientIdError || e instanceof RedirectUriError) return sendBadRequestPage(reply, e.description, e.error);
    if (e instanceof AuthorizeError) return sendAuthorizeError(reply, e);
    throw e;
  }
  const p = provider!;
  if (params.learnRedirectUri)
    try {
      await learnRedirectUri(svc, p, params.redirect_uri);
    } catch (e) {
      if (e instanceof RedirectUriError) return sendBadRequestPage(reply, e.description, e.error);
      throw e;
    }
  const me = await svc.sessions.user(req);
  // promptNone: nobody logged in and the client forbids asking
  if (params.prompt.has(PROMPT_NONE) && !me)
    return sendAuthorizeError(reply, new AuthorizeError(params.redirect_uri, 'login_required', params.grant_type, params.state));
  const authFlow = p.authentication_flow ? await flowByUuid(svc, p.authentication_flow) : undefined;
  // idTokenHint: prompt=none for someone other than who is logged in
  if (
    me &&
    params.prompt.has(PROMPT_NONE) &&
    params.id_token_hint &&
    (await hintNamesSomeoneElse(svc, req, p, params.id_token_hint, me.user))
  )
    return sendAuthorizeError(reply, new AuthorizeError(params.redirect_uri, 'login_required', params.grant_type, params.state));
  // loggedIn
  if (!me) return toLogin(svc, req, reply, { flow: authFlow, application: p.application, loginHint: params.login_hint });
  const login = await lastLoginOf(svc.db, me.user.username);
  if (!login) return toLogin(svc, req, reply, { flow: authFlow });
  const session = await svc.sessions.load(req);
  const store = (session.data.providers ??= {});
  // maxAge: the last login is too old
  // (as authentik: max_age=0 asks nothing)
  if (params.max_age && Date.now() - login.created.getTime() > params.max_age * 1000) {
    store[LAST_LOGIN_KEY] = login.uid;
    session.dirty = true;
    await svc.sessions.save(session, req, reply);
    return toLogin(svc, req, reply, { flow: authFlow });
  }
  // promptLogin: re-authenticate unless that is what just happened
  if (params.prompt.has(PROMPT_LOGIN)) {
    if (store[LAST_LOGIN_KEY] === undefined || store[LAST_LOGIN_KEY] === login.uid) {
      store[LAST_LOGIN_KEY] = login.uid;
      session.dirty = true;
      await svc.sessions.save(session, req, reply);
      return toLogin(svc, req, reply, { flow: authFlow });
    }
    delete store[LAST_LOGIN_KEY];
    session.dirty = true;
  }
  // applicationAccess
  const app = p.application;
  const access = await applicationAllows(svc, p, me.user, req, policyContextOf(params));
  if (!app || !access.passing) return sendPermissionDenied(reply, access.messages);
  // startAuthorizationFlow, with the request waiting in the session for the flow's continuation
  const flow = await flowByUuid(svc, p.authorization_flow);
  if (!flow) return sendBadRequestPage(reply, 'The provider has no authorization flow.', 'Flow not found');
  const pendingParams: Pending['params'] = { ...params, scope: [...params.scope], prompt: [...params.prompt] };
  const started = await startAuthorization(svc, req, reply, {
    flow,
    session,
    prefix: PENDING_PREFIX,
    pending: { provider: p.id, user: me.user.id, params: pendingParams },
    user: me.user,
    app,
    permissions: await permissionsOf(svc, p, params.scope),
    fulfilPath: (key) => `/application/o/authorize/fulfil/${key}/`,
    // prompt=consent (offline_access forces it) on a flow without a consent stage: authentik's in-memory one
    amend: (plan) => {
      if (params.prompt.has(PROMPT_CONSENT) && !plan.bindings.some((b) => b.kind === CONSENT_KIND))
        plan.bindings.push(inMemoryBinding(PROMPT_CONSENT_STAGE));
    },
  });
  // (a flow with nothing to ask, authentik's implicit-consent flow: the browser goes straight back to the client)
  if (started === 'done') return fulfil(svc, req, reply, p, me, pendingParams, login);
  if (started === 'denied') return sendPermissionDenied(reply);
  return started;
}

/** /application/o/authorize/fulfil/<key>/: the flow is done — issue what the request asked for */
export async function fulfilEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const me = await svc.sessions.user(req);
  const session = await svc.sessions.load(req);
  const pending = takePending<Pending>(session, PENDING_PREFIX, (req.params as { key: string }).key, me?.user.id);
  if (!pending || !me)
    return sendBadRequestPage(reply, 'This authorization request is unknown, expired or already completed.', 'Invalid request');
  await svc.sessions.save(session, req, reply);
  const provider = await oauth2ProviderById(svc, pending.provider);
  return fulfil(svc, req, reply, provider, me, pending.params, await lastLoginOf(svc.db, me.user.username));
}

/** the flow is done: issue what the request asked for (authentik's OAuthFulfillmentStage) */
async function fulfil(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  provider: OAuth2Provider | undefined,
  me: { user: UsersTable; sessionKey: string },
  params: Pending['params'],
  login: Awaited<ReturnType<typeof lastLoginOf>>,
) {
  if (!provider || !provider.application)
    return sendBadRequestPage(reply, 'The client identifier (client_id) is missing or invalid.', 'Client ID Error');
  try {
    // authentik: prompt=none with prompt=consent cannot be satisfied
    if (params.prompt.includes(PROMPT_NONE) && params.prompt.includes(PROMPT_CONSENT))
      throw new AuthorizeError(params.redirect_uri, 'consent_required', params.grant_type, params.state ?? undefined);
    const values = await responseValues(svc, req, provider, me.user, me.sessionKey, params, login);
    await svc.events.emit('authorize_application', {
      user: { pk: me.user.id, username: me.user.username, email: me.user.email },
      req,
      context: { authorized_application: applicationRef(provider.application), scopes: params.scope.join(' ') },
    });
    const r = authorizationResponse(params.redirect_uri, params.response_mode, values);
    if ('formPost' in r) return sendFormPost(reply, r.formPost.url, r.formPost.attrs, `Redirecting to ${provider.application.name}...`);
    return reply.redirect(locationOf(r.redirect), 302);
  } catch (e) {
    if (e instanceof AuthorizeError) return sendAuthorizeError(reply, e);
    throw e;
  }
}

/** `create_response_uri` / `create_implicit_response`: the code and/or tokens, in authentik's order */
async function responseValues(
  svc: Services,
  req: FastifyRequest,
  provider: OAuth2Provider,
  user: UsersTable,
  sessionKey: string,
  params: Pending['params'],
  login: Awaited<ReturnType<typeof lastLoginOf>>,
): Promise<ResponseValues> {
  const now = new Date();
  const authTime = login?.created ?? now;
  const amr = amrOf(login);
  // (a session's key is its `sid`: sessions/session-hash.ts)
  const sid = sessionKey;
  const state = params.state ?? '';
  let code: string | undefined;
  if (params.grant_type === GRANT_TYPE_AUTHORIZATION_CODE || params.grant_type === GRANT_TYPE_HYBRID) {
    // (authentik: uuid4().hex)
    code = randomUUID().replace(/-/g, '');
    await insertCode(svc.db, {
      provider_id: provider.id,
      user_id: user.id,
      scope: params.scope.join(' '),
      auth_time: authTime,
      session_id: sid,
      expires: new Date(now.getTime() + durationMs(provider.access_code_validity)),
      code,
      nonce: params.nonce ?? null,
      code_challenge: params.code_challenge ? params.code_challenge : null,
      code_challenge_method: params.code_challenge ? params.code_challenge_method : null,
      dpop_jkt: params.dpop_jkt ?? null,
      redirect_uri: params.redirect_uri,
      amr: amr ?? null,
    });
  }
  if (params.grant_type === GRANT_TYPE_AUTHORIZATION_CODE)
    return [
      ['code', code!],
      ['state', state],
    ];
  // implicit and hybrid: an access token (always stored), the ID token and/or the code
  const keys = await keysOf(svc, provider);
  const g: GrantBase = {
    svc,
    req,
    origin: originOf(req, svc.config),
    provider,
    keys,
    user,
    scope: params.scope,
    authTime,
    sid,
    amr: amr ?? null,
    nonce: params.nonce ?? null,
  };
  const access = await mintAccessToken(g);
  const out: ResponseValues = [];
  const rt = params.response_type;
  if (code && (rt === RESPONSE_TYPE_CODE_ID_TOKEN || rt === RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN)) access.idToken.c_hash = cHash(code);
  if (rt === RESPONSE_TYPE_ID_TOKEN_TOKEN || rt === RESPONSE_TYPE_CODE_ID_TOKEN_TOKEN || rt === RESPONSE_TYPE_CODE_TOKEN) {
    out.push(['access_token', access.token]);
    access.idToken.at_hash = atHash(access.token);
  }
  if (rt.split(' ').includes('id_token')) out.push(['id_token', await encodeJwt(idTokenClaims(access.idToken), keys)]);
  await insertAccessToken(svc.db, { ...access.row, id_token: JSON.stringify(access.idToken) });
  if (params.grant_type === GRANT_TYPE_HYBRID) out.push(['code', code!]);
  out.push(['token_type', TOKEN_TYPE], ['expires_in', String(access.expiresIn)], ['state', state]);
  return out;
}
