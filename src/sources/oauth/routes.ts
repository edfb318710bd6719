/**
 * An OAuth source's browser endpoints at authentik's URLs (authentik/sources/oauth/urls.py):
 * `/source/oauth/login/{slug}/` sends the person to the identity provider with a state (and a PKCE verifier) kept in
 * their session, and `/source/oauth/callback/{slug}/` checks the state (once: it is dropped at the first callback),
 * exchanges the code, reads the profile and hands the identity to the flow manager.
 */
import type { Session } from '../../sessions/sessions.js';
import { sameText } from '../../crypto/compare.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { secretsOf } from '../../instance/secrets.js';
import { isRelative } from '../../flows/engine/challenge.js';
import { sendSourcePage, sourceFlow, type Vouched } from '../flow-manager.js';
import { mapGroups, mapProperties, sourceMappings } from '../mappings.js';
import type { JsonObject } from '../../expressions/index.js';
import { callbackPath } from './paths.js';
import { sourceType, urlOf } from './types.js';
import { requestOrigin } from '../../brands/links.js';
import { authorizationRedirect, exchangeCode, fetchProfile, getWithToken, scopesOf } from './client.js';
import { clientOf, oauthSource, type Source } from './source-client.js';

/** a pending redirect's record in the session, by source slug */
interface Pending {
  state: string;
  verifier?: string;
  redirectUri: string;
  next?: string;
  created: number;
}

const PENDING_TTL_MS = 30 * 60_000;

async function enabledSource(svc: Services, slug: string): Promise<Source | undefined> {
  const source = await oauthSource(svc.db, { slug });
  return source && Number(source.enabled) ? source : undefined;
}

const notFound = (reply: FastifyReply, slug: string) => sendSourcePage(reply, 404, 'Not Found', `Unable to find OAuth source '${slug}'.`);

const relative = (v: unknown) => (typeof v === 'string' && v !== '' && isRelative(v) ? v : undefined);

/**
 * authentik's _try_login_hint_extract: in a flow that knows who is logging in, the identity provider is told — what
 * the person typed, else the pending user's e-mail address
 */
function loginHintOf(session: Session): string | undefined {
  const ctx = session.data.plan?.context;
  return ctx?.pendingUserIdentifier || ctx?.pendingUser?.email || undefined;
}

async function login(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const { slug } = req.params as { slug: string };
  const source = await enabledSource(svc, slug);
  const type = source && sourceType(source.provider_type);
  const authorizationUrl = source && type && urlOf(type, source, 'authorization_url');
  if (!source || !type || !authorizationUrl) return notFound(reply, slug);
  const session = await svc.sessions.load(req);
  const redirectUri = `${requestOrigin(req)}${callbackPath(source.slug)}`;
  // (Slack: the scopes in `user_scope`, a leading `*` of the additional scopes dropped rather than replacing, as authentik)
  const scopes = type.scopeParam
    ? scopesOf(type.scopes, source.additional_scopes.replace(/^\*/, ''))
    : scopesOf(type.scopes, source.additional_scopes);
  const loginHint = loginHintOf(session);
  const started = authorizationRedirect(authorizationUrl, await clientOf(type, source), redirectUri, type.scopeParam ? '' : scopes, {
    ...type.authorizeParams,
    ...(type.scopeParam ? { [type.scopeParam]: scopes } : {}),
    ...(loginHint ? { login_hint: loginHint } : {}),
  });
  // where the person was going: `?next=` on this URL, else the `next` of the flow they were in
  const next = relative((req.query as Record<string, unknown>).next) ?? relative(session.data.query?.next);
  const store = (session.data.sources ??= {});
  const now = Date.now();
  // stale logins that never came back (other entries — a flow a source stage suspended — keep their own time)
  for (const [k, v] of Object.entries(store))
    if ((v as Partial<Pending>).state !== undefined && now - ((v as Pending).created ?? 0) > PENDING_TTL_MS) delete store[k];
  store[source.slug] = {
    state: started.state,
    redirectUri,
    created: now,
    ...(started.verifier ? { verifier: started.verifier } : {}),
    ...(next ? { next } : {}),
  } satisfies Pending;
  session.dirty = true;
  await svc.sessions.save(session, req, reply);
  return reply.redirect(type.authorizeUrl ? type.authorizeUrl(started.url) : started.url, 302);
}

async function callback(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const { slug } = req.params as { slug: string };
  const source = await enabledSource(svc, slug);
  const type = source && sourceType(source.provider_type);
  if (!source || !type) return notFound(reply, slug);
  // a provider posting its answer (response_mode=form_post, Apple's) comes from another site: the browser sends no
  // SameSite=Lax session cookie with that POST, but does with a top-level GET, so the answer is sent on as one (only
  // OAuth's own parameters: nothing personal in a URL)
  if (req.method === 'POST') {
    const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
    const forward = new URLSearchParams();
    for (const k of ['code', 'state', 'error', 'error_description']) {
      const v = form.get(k);
      if (v !== null) forward.set(k, v);
    }
    return reply.redirect(`${callbackPath(source.slug)}?${forward.toString()}`, 303);
  }
  const session = await svc.sessions.load(req);
  const pending = session.data.sources?.[source.slug] as Pending | undefined;
  if (pending) {
    delete session.data.sources![source.slug];
    session.dirty = true;
  }
  const params = new URLSearchParams(req.url.split('?')[1] ?? '');
  const fail = async (reason: string) => {
    req.log.warn({ source: source.slug, reason }, 'source authentication failed');
    await svc.sessions.save(session, req, reply);
    return sendSourcePage(reply, 400, 'Authentication failed', `Authentication failed: ${reason}`);
  };
  const state = params.get('state');
  if (!pending || state === null || Date.now() - pending.created > PENDING_TTL_MS || !sameText(pending.state, state))
    return fail('State check failed.');
  const code = params.get('code');
  if (!code) return fail(params.get('error_description') || params.get('error') || 'No token received.');
  const tokenUrl = urlOf(type, source, 'access_token_url');
  const profileUrl = urlOf(type, source, 'profile_url') ?? '';
  if (!tokenUrl || (!profileUrl && !type.profileFromToken)) return fail('Could not retrieve token.');
  let client: Source;
  try {
    client = await clientOf(type, source, { secret: true });
  } catch (e) {
    req.log.warn({ err: e, source: source.slug }, 'source client secret could not be made');
    return fail('Could not retrieve token.');
  }
  const exchanged = type.exchange
    ? await type.exchange(tokenUrl, client, code)
    : await exchangeCode(tokenUrl, client, code, pending.redirectUri, pending.verifier, type.normalizeToken);
  if (!exchanged.ok) return fail(exchanged.reason);
  const fetched = type.profileFromToken
    ? type.profileFromToken(exchanged.token)
    : await fetchProfile(type.profileRequestUrl ? type.profileRequestUrl(profileUrl, exchanged.token) : profileUrl, exchanged.token);
  if (!fetched) return fail('Could not retrieve profile.');
  let profile = fetched;
  if (type.enrich) {
    const enriched = await type
      .enrich(fetched, (url) => getWithToken(url, exchanged.token), profileUrl, source.additional_scopes)
      .catch(() => undefined);
    // authentik: a failed group lookup fails the profile
    if (!enriched) return fail('Could not retrieve profile.');
    profile = enriched;
  }
  const identifier = type.identifier(profile);
  if (!identifier) return fail('Could not determine id.');
  // authentik's base properties, then the source's user mappings (`info`, `token`, `properties`)
  const base: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(type.properties(profile)))
    if (k === 'groups' || (k === 'attributes' && v && typeof v === 'object')) base[k] = v;
    else if ((typeof v === 'string' || typeof v === 'number') && String(v) !== '') base[k] = String(v);
  const mappingGlobals = { info: profile as JsonObject, token: exchanged.token as JsonObject };
  const userMappings = await sourceMappings(svc, source.source_uuid, 'user');
  const mapped = userMappings.length
    ? await mapProperties(svc, req, source, userMappings, base, mappingGlobals)
    : { ok: true as const, properties: base };
  if (!mapped.ok) return fail(`Failed to evaluate property mapping: '${mapped.mapping}'`);
  const { groups: groupClaim, ...properties } = mapped.properties;
  // each group's properties: its identifier (or the type's name for it), then the source's group mappings
  const grouped = await mapGroups(svc, req, source, groupClaim, mappingGlobals, 'oauth', (id) => type.groupName?.(profile, id) ?? id);
  if (!grouped.ok) return fail(`Failed to evaluate property mapping: '${grouped.mapping}'`);
  const { groups } = grouped;
  const expiresIn = Number(exchanged.token.expires_in);
  const who: Vouched = {
    identifier,
    properties,
    groups,
    accessToken: secretsOf(svc.db).seal('user_source_connections.access_token', String(exchanged.token.access_token)),
    expires: new Date(Date.now() + (Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : 0)).toISOString(),
    policy: { context: { oauth_userinfo: profile }, providerType: source.provider_type },
  };
  const answer = await sourceFlow(svc, req, reply, session, source, who, pending.next);
  if (answer.type === 'flow') return reply.redirect(answer.to, 302);
  await svc.sessions.save(session, req, reply);
  if (answer.type === 'linked') return reply.redirect(pending.next ?? '/if/user/', 302);
  if (answer.type === 'bad_request') return sendSourcePage(reply, 400, 'Bad Request', answer.message);
  return sendSourcePage(reply, 403, 'Permission denied', answer.message);
}

export function mountOAuthSourceRoutes(app: FastifyInstance, svc: Services) {
  app.register(async (scope) => {
    scope.addContentTypeParser(
      /^application\/x-www-form-urlencoded(\s*;.*)?$/,
      { parseAs: 'string', bodyLimit: 64 * 1024 },
      (_req, body, done) => done(null, new URLSearchParams(String(body))),
    );
    const config = { noConfigWrites: true };
    scope.get('/source/oauth/login/:slug/', { config }, (req, reply) => login(svc, req, reply));
    // GET as the providers answer; POST for response_mode=form_post (Apple's)
    for (const method of ['GET', 'POST'] as const)
      scope.route({ method, url: '/source/oauth/callback/:slug/', config, handler: (req, reply) => callback(svc, req, reply) });
  });
}
