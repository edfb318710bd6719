/**
 * A SAML source's browser endpoints at authentik's URLs (authentik/sources/saml/urls.py), under
 * `/source/saml/<slug>/`: the login (`/`) sends the person to the identity provider with an AuthnRequest whose ID is
 * kept in their session, `acs/` takes the SAMLResponse and hands the identity to the flow manager, `slo/` logs out
 * (and on to the IdP's SLO URL), `metadata/` is the service provider's metadata.
 *
 * The IdP posts the response from its own site, so a browser sends no SameSite=Lax session cookie with it: such a
 * POST is answered with a page that posts the same form again from Keystage's own origin, which the browser sends
 * the cookie with (`relayed` marks the second post).
 */
import { createHash, randomBytes } from 'node:crypto';
import type { FlowsTable } from '../../db/types.js';
import { startFlow } from '../../flows/engine/start.js';
import type { Session } from '../../sessions/sessions.js';
import { sameText } from '../../crypto/compare.js';
import { typedSourceRow } from '../rows.js';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../services.js';
import { requestOrigin } from '../../brands/links.js';
import { isRelative } from '../../flows/engine/challenge.js';
import { pemsOf } from '../../crypto/keys.js';
import { parseDuration } from '../../rest/duration.js';
import { sendFormPost } from '../../ui/form-post.js';
import type { JsonObject } from '../../expressions/index.js';
import { sendSourcePage, sourceFlow, type Vouched } from '../flow-manager.js';
import { mapGroups, mapProperties, sourceMappings } from '../mappings.js';
import type { SourcesTable } from '../table.js';
import { authnRequestXml, postBindingRequest, redirectBindingUrl } from './request.js';
import { NAME_ID, randomId } from '../../saml/constants.js';
import { readResponse } from './response.js';
import { spMetadata } from './metadata.js';
import { acceptOnce } from './seen.js';
import { logoutRequestXml, logoutResponseXml, readLogoutRequest } from './logout.js';
import { samlPath } from './paths.js';
import { postAgainWithCookie, RELAYED } from '../../saml/relay.js';
import { SamlError } from '../../saml/xml.js';
import type { SamlSourcesTable } from './table.js';

export type SamlSource = SourcesTable & SamlSourcesTable;

/** a pending AuthnRequest's record in the session, by source slug */
interface Pending {
  samlRequest: string;
  next?: string;
  created: number;
  /** the pre-authentication flow's token, while it runs */
  preauth?: string;
}

const PENDING_TTL_MS = 30 * 60_000;

/** the source's entity ID: its `issuer_override`, else the metadata URL (authentik's get_issuer) */
export const issuerOf = (source: Pick<SamlSource, 'issuer_override' | 'slug'>, req: FastifyRequest) =>
  source.issuer_override || `${requestOrigin(req)}${samlPath(source.slug, 'metadata/')}`;

export const samlSourceBySlug = (svc: Services, slug: string) => typedSourceRow<SamlSource>(svc.db, 'samlsource', 'saml_sources', { slug });

async function enabledSource(svc: Services, req: FastifyRequest): Promise<SamlSource | undefined> {
  const row = await samlSourceBySlug(svc, (req.params as { slug: string }).slug);
  return row && Number(row.enabled) ? row : undefined;
}

const notFound = (reply: FastifyReply) => sendSourcePage(reply, 404, 'Not Found', 'Unable to find the SAML source.');

const relative = (v: unknown) => (typeof v === 'string' && v !== '' && isRelative(v) ? v : undefined);

async function signingPair(svc: Services, source: SamlSource) {
  const pems = source.signing_kp ? await pemsOf(svc, source.signing_kp) : undefined;
  return pems?.privateKeyPem ? pems : undefined;
}

/** the SP metadata XML of a source (the browser URL and the API's `metadata/`) */
export async function metadataOf(svc: Services, source: SamlSource, req: FastifyRequest): Promise<string> {
  const signing = await signingPair(svc, source);
  const encryption = source.encryption_kp ? await pemsOf(svc, source.encryption_kp) : undefined;
  return spMetadata({
    entityId: issuerOf(source, req),
    acsUrl: `${requestOrigin(req)}${samlPath(source.slug, 'acs/')}`,
    ...(source.slo_url ? { sloUrl: `${requestOrigin(req)}${samlPath(source.slug, 'slo/')}` } : {}),
    ...(signing ? { signingCertificatePem: signing.certificatePem } : {}),
    ...(encryption?.certificatePem ? { encryptionCertificatePem: encryption.certificatePem } : {}),
    signRequests: !!signing,
    nameIdFormat: source.name_id_policy,
    wantAssertionsSigned: !!source.verification_kp && !!source.signed_assertion,
  });
}

/**
 * The POST bindings first run the source's pre-authentication flow (authentik plans it before its autosubmit stage):
 * its end comes back to the login URL with a one-time token, which only the finished flow's redirect names.
 */
async function preAuthentication(
  svc: Services,
  req: FastifyRequest,
  reply: FastifyReply,
  session: Session,
  source: SamlSource,
  next: string | undefined,
): Promise<'done' | 'not_applicable' | string> {
  const store = (session.data.sources ??= {});
  const waiting = store[source.slug] as Partial<Pending> | undefined;
  const token = (req.query as Record<string, unknown>).preauth;
  if (
    waiting?.preauth &&
    typeof token === 'string' &&
    sameText(waiting.preauth, token) &&
    Date.now() - (waiting.created ?? 0) <= PENDING_TTL_MS
  )
    return 'done';
  const flow = source.pre_authentication_flow
    ? ((await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', source.pre_authentication_flow).executeTakeFirst()) as
        | FlowsTable
        | undefined)
    : undefined;
  if (!flow) return 'done';
  const preauth = randomBytes(24).toString('base64url');
  store[source.slug] = { preauth, created: Date.now(), ...(next ? { next } : {}) } satisfies Partial<Pending>;
  session.dirty = true;
  const me =
    session.userId !== null ? await svc.db.selectFrom('users').selectAll().where('id', '=', session.userId).executeTakeFirst() : undefined;
  const started = await startFlow(
    svc,
    flow,
    {
      ...(me ? { user: me } : {}),
      context: { source: { pk: source.source_uuid, slug: source.slug, name: source.name } },
      // biome-ignore lint/suspicious/noThenProperty: startFlow's continuation (flows/engine/start.ts), not a thenable
      then: `${samlPath(source.slug)}?preauth=${preauth}`,
      finishEmpty: true,
      session,
    },
    req,
    reply,
  );
  if (started === false) return 'not_applicable';
  if (started === 'done') return 'done';
  return `/if/flow/${encodeURIComponent(flow.slug)}/`;
}

async function login(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const source = await enabledSource(svc, req);
  if (!source) return notFound(reply);
  const session = await svc.sessions.load(req);
  const waiting = session.data.sources?.[source.slug] as Partial<Pending> | undefined;
  const next = relative((req.query as Record<string, unknown>).next) ?? waiting?.next ?? relative(session.data.query?.next);
  if (source.binding_type !== 'REDIRECT') {
    const pre = await preAuthentication(svc, req, reply, session, source, next);
    if (pre === 'not_applicable') {
      await svc.sessions.save(session, req, reply);
      return notFound(reply);
    }
    if (pre !== 'done') return reply.redirect(pre, 302);
  }
  const id = randomId();
  const store = (session.data.sources ??= {});
  const now = Date.now();
  for (const [k, v] of Object.entries(store))
    if ((v as Partial<Pending>).samlRequest !== undefined && now - ((v as Pending).created ?? 0) > PENDING_TTL_MS) delete store[k];
  store[source.slug] = { samlRequest: id, created: now, ...(next ? { next } : {}) } satisfies Pending;
  session.dirty = true;
  await svc.sessions.save(session, req, reply);
  const xml = authnRequestXml(source, {
    id,
    issuer: issuerOf(source, req),
    acsUrl: `${requestOrigin(req)}${samlPath(source.slug, 'acs/')}`,
  });
  let pair: Awaited<ReturnType<typeof signingPair>>;
  try {
    pair = await signingPair(svc, source);
    if (source.binding_type === 'REDIRECT') return reply.redirect(redirectBindingUrl(xml, source, next ?? '', pair), 302);
    const attrs = { SAMLRequest: postBindingRequest(xml, source, pair), ...(next ? { RelayState: next } : {}) };
    // POST asks the person first (authentik's consent stage "Continue to …"), POST_AUTO posts at once
    const auto = source.binding_type === 'POST_AUTO';
    return sendFormPost(reply, source.sso_url, attrs, auto ? `Redirecting to ${source.name}...` : `Continue to ${source.name}`, {
      auto,
    });
  } catch (e) {
    req.log.warn({ err: e, source: source.slug }, 'SAML request could not be signed');
    return sendSourcePage(reply, 400, 'Bad Request', 'The request to the identity provider could not be signed.');
  }
}

/** authentik's transient NameID handling: an identifying attribute if the IdP sent one, else a temporary user */
const TRANSIENT_IDS: [string, string[]][] = [
  ['eppn', ['urn:oid:1.3.6.1.4.1.5923.1.1.1.6', 'eduPersonPrincipalName']],
  ['eptid', ['urn:oid:1.3.6.1.4.1.5923.1.1.1.10', 'eduPersonTargetedID']],
  ['mail', ['urn:oid:0.9.2342.19200300.100.1.3', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress', 'mail', 'email']],
];

function transientIdentifier(source: SamlSource, properties: Record<string, unknown>, nameId: string): string {
  for (const [key, names] of TRANSIENT_IDS)
    for (const n of names) {
      const v = properties[n];
      if (typeof v === 'string' && v.trim()) {
        properties[key] = v;
        return v;
      }
    }
  const ms = parseDuration(source.temporary_user_delete_after) ?? 86_400_000;
  const attributes = (properties.attributes ??= {}) as Record<string, unknown>;
  attributes['goauthentik.io/user/transient-token'] = createHash('sha256').update(nameId, 'utf8').digest('hex');
  attributes['goauthentik.io/user/expires'] = Math.floor((Date.now() + ms) / 1000);
  attributes['goauthentik.io/user/generated'] = true;
  return nameId;
}

async function acs(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
  const source = await enabledSource(svc, req);
  if (!source) return notFound(reply);
  const raw = form.get('SAMLResponse');
  if (!raw) return sendSourcePage(reply, 400, 'Bad Request', "Request does not contain 'SAMLResponse'");
  // (the IdP's cross-site POST comes without the session cookie: post it again from this origin, once)
  const again = postAgainWithCookie(req, reply, {
    to: `${requestOrigin(req)}${samlPath(source.slug, 'acs/')}`,
    param: 'SAMLResponse',
    message: raw,
    relayState: form.get('RelayState'),
    relayed: form.get(RELAYED) !== null,
    title: `Signing in with ${source.name}...`,
  });
  if (again) return again;
  const session = await svc.sessions.load(req);
  const pending = session.data.sources?.[source.slug] as Partial<Pending> | undefined;
  const fresh =
    pending?.samlRequest !== undefined && Date.now() - (pending.created ?? 0) <= PENDING_TTL_MS ? (pending as Pending) : undefined;
  const fail = async (message: string) => {
    req.log.warn({ source: source.slug, reason: message }, 'SAML source authentication failed');
    await svc.sessions.save(session, req, reply);
    return sendSourcePage(reply, 400, 'Bad Request', message);
  };
  let read: Awaited<ReturnType<typeof readResponse>>;
  try {
    const verification = source.verification_kp ? await pemsOf(svc, source.verification_kp) : undefined;
    const encryption = source.encryption_kp ? await pemsOf(svc, source.encryption_kp) : undefined;
    if ((source.verification_kp && !verification?.certificatePem) || (source.encryption_kp && !encryption?.privateKeyPem))
      return fail("The source's key pair is missing.");
    const origin = requestOrigin(req);
    read = await readResponse(
      raw,
      { signed_assertion: !!source.signed_assertion, signed_response: !!source.signed_response },
      {
        ...(verification ? { certificatePem: verification.certificatePem } : {}),
        ...(encryption ? { decryptionKeyPem: encryption.privateKeyPem } : {}),
      },
      [issuerOf(source, req), `${origin}${samlPath(source.slug, 'metadata/')}`, `${origin}${samlPath(source.slug, 'acs/')}`],
      `${origin}${samlPath(source.slug, 'acs/')}`,
    );
  } catch (e) {
    if (e instanceof SamlError) return fail(e.message);
    throw e;
  }
  // the request this answers: the one this session sent (taken once), unless IdP-initiated logins are allowed
  const answered = !!fresh && read.inResponseTo === fresh.samlRequest;
  if (fresh && (answered || !Number(source.allow_idp_initiated))) {
    delete session.data.sources![source.slug];
    session.dirty = true;
  }
  if (!answered && !Number(source.allow_idp_initiated)) {
    if (!fresh || read.inResponseTo === null) return fail('Missing InResponseTo and IdP-initiated Logins are not allowed');
    return fail('Mismatched request ID');
  }
  // the assertion answers that request too: a confirmation naming this source names it, or no request
  if (answered && !read.confirmations.some((irt) => irt === null || irt === fresh.samlRequest)) return fail('Mismatched request ID');
  if (!(await acceptOnce(svc.db, source.source_uuid, read.ids, read.expires))) return fail('Replay attack detected');

  const properties = { ...read.properties };
  let identifier = read.nameId.text;
  if (read.nameId.format === NAME_ID.transient) identifier = transientIdentifier(source, properties, read.nameId.text);
  const globals: JsonObject = {
    root: read.xml,
    name_id: { text: read.nameId.text, attrib: read.nameId.format ? { Format: read.nameId.format } : {} },
  };
  const userMappings = await sourceMappings(svc, source.source_uuid, 'user');
  const mapped = userMappings.length
    ? await mapProperties(svc, req, source, userMappings, properties, globals, 'saml')
    : { ok: true as const, properties };
  if (!mapped.ok) return fail(`Failed to evaluate property mapping: '${mapped.mapping}'`);
  const { groups: groupClaim, ...userProperties } = mapped.properties;
  const grouped = await mapGroups(svc, req, source, groupClaim, globals, 'saml');
  if (!grouped.ok) return fail(`Failed to evaluate property mapping: '${grouped.mapping}'`);
  const who: Vouched = {
    identifier,
    properties: userProperties,
    groups: grouped.groups,
    accessToken: null,
    expires: new Date().toISOString(),
  };
  const next = fresh?.next;
  const answer = await sourceFlow(svc, req, reply, session, source, who, next);
  if (answer.type === 'flow') return reply.redirect(answer.to, 302);
  await svc.sessions.save(session, req, reply);
  if (answer.type === 'linked') return reply.redirect(next ?? '/if/user/', 302);
  if (answer.type === 'bad_request') return sendSourcePage(reply, 400, 'Bad Request', answer.message);
  return sendSourcePage(reply, 403, 'Permission denied', answer.message);
}

/**
 * `slo/`: the IdP's LogoutResponse (back to `/`), the IdP's LogoutRequest (this browser's session ends, and the IdP
 * gets its LogoutResponse), or — without a SAML message — a person logging out here: the session ends and, when the
 * IdP has an SLO URL, it gets Keystage's LogoutRequest for the NameID the source knows them by.
 */
async function slo(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const source = await enabledSource(svc, req);
  if (!source) return notFound(reply);
  const form = req.body instanceof URLSearchParams ? req.body : new URLSearchParams();
  const query = new URLSearchParams(req.url.split('?')[1] ?? '');
  const param = (name: string) => form.get(name) ?? query.get(name);
  if (param('SAMLResponse') !== null) return reply.redirect('/', 302);
  const session = await svc.sessions.load(req);
  const userId = session.userId;
  const pair = await signingPair(svc, source).catch(() => undefined);
  const issuer = issuerOf(source, req);
  const incoming = param('SAMLRequest');
  if (incoming !== null) {
    let request: ReturnType<typeof readLogoutRequest>;
    try {
      request = readLogoutRequest(incoming, form.get('SAMLRequest') === null);
    } catch (e) {
      if (e instanceof SamlError) return sendSourcePage(reply, 400, 'Bad Request', e.message);
      throw e;
    }
    if (userId !== null) await svc.sessions.destroy(session, reply);
    await svc.sessions.save(session, req, reply);
    if (!source.slo_url) return reply.redirect('/', 302);
    const answer = logoutResponseXml({ id: randomId(), issuer, destination: source.slo_url, inResponseTo: request.id });
    return reply.redirect(
      redirectBindingUrl(answer, source, param('RelayState') ?? '', pair, { param: 'SAMLResponse', to: source.slo_url }),
      302,
    );
  }
  const connection =
    userId !== null
      ? await svc.db
          .selectFrom('user_source_connections')
          .select('identifier')
          .where('user_id', '=', userId)
          .where('source_uuid', '=', source.source_uuid)
          .executeTakeFirst()
      : undefined;
  if (userId !== null) await svc.sessions.destroy(session, reply);
  await svc.sessions.save(session, req, reply);
  if (!source.slo_url || !connection) return reply.redirect('/', 302);
  const request = logoutRequestXml({
    id: randomId(),
    issuer,
    destination: source.slo_url,
    nameId: connection.identifier,
    format: source.name_id_policy,
  });
  return reply.redirect(redirectBindingUrl(request, source, '', pair, { to: source.slo_url }), 302);
}

async function metadata(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const source = await samlSourceBySlug(svc, (req.params as { slug: string }).slug);
  if (!source) return notFound(reply);
  return reply.type('text/xml; charset=utf-8').send(await metadataOf(svc, source, req));
}

export function mountSamlSourceRoutes(app: FastifyInstance, svc: Services) {
  app.register(async (scope) => {
    scope.addContentTypeParser(
      /^application\/x-www-form-urlencoded(\s*;.*)?$/,
      { parseAs: 'string', bodyLimit: 2 * 1024 * 1024 },
      (_req, body, done) => done(null, new URLSearchParams(String(body))),
    );
    const config = { noConfigWrites: true };
    scope.get('/source/saml/:slug/', { config }, (req, reply) => login(svc, req, reply));
    scope.post('/source/saml/:slug/acs/', { config }, (req, reply) => acs(svc, req, reply));
    for (const method of ['GET', 'POST'] as const)
      scope.route({ method, url: '/source/saml/:slug/slo/', config, handler: (req, reply) => slo(svc, req, reply) });
    scope.get('/source/saml/:slug/metadata/', { config }, (req, reply) => metadata(svc, req, reply));
  });
}
