/**
 * POST /application/o/<slug>/register/ (authentik's DynamicClientRegistrationView, RFC 7591): a client holding an
 * access token with the `goauthentik.io/oidc/dcr` scope, whose user the application's policies let in, registers a
 * new client — a new OAuth2 provider and application, made from the provider's registration settings (dcr/store.ts)
 * and the body's metadata, with the settings' (else the application's) policy bindings copied onto it. One
 * transaction: a failure leaves nothing behind. No RFC 7592 read, update or delete, as authentik.
 *
 * Beyond authentik, as a careful deployment would want: redirect URIs with the schemes the authorize endpoint refuses
 * (`javascript:`, `data:`, `vbscript:`) are refused here too, and a request whose grant types the settings allow none
 * of is refused (authentik falls back to `authorization_code` even when the allow-list leaves it out).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { randomUUID } from 'node:crypto';
import { applicationResource } from '../../../applications/resource.js';
import type { UsersTable } from '../../../db/types.js';
import { attachSecrets, secretsOf } from '../../../instance/secrets.js';
import { ValidationError } from '../../../rest/errors.js';
import { slugify } from '../../../rest/slugify.js';
import { type Tx, writeWithin } from '../../../rest/resource.js';
import type { Services } from '../../../services.js';
import { userById } from '../../../users/by-id.js';
import { applicationAllows } from '../../../applications/access.js';
import { lockConfigEpoch } from '../../../db/config-epoch.js';
import { providerResource } from '../../resource.js';
import type { ProviderDef } from '../../types.js';
import { oauth2ProviderByAppSlug, type OAuth2Provider } from '../config.js';
import { FORBIDDEN_URI_SCHEMES, SCOPE_AUTHENTIK_DCR } from '../protocol/constants.js';
import { schemeOf } from '../protocol/errors.js';
import { parseScope } from '../protocol/scopes.js';
import { GRANT_TYPES } from '../schema.js';
import { findAccessToken, isLive } from '../tokens/store.js';
import { type DcrSettings, dcrOf } from './store.js';
import { liveBinding } from '../../../policies/bindings/expiry.js';

const AUTH_METHODS: Record<string, 'confidential' | 'public'> = {
  client_secret_basic: 'confidential',
  client_secret_post: 'confidential',
  none: 'public',
};

class DcrError extends Error {
  constructor(
    readonly error: string,
    readonly description: string,
    readonly status = 400,
  ) {
    super(error);
  }
}

const send = (reply: FastifyReply, status: number, body: unknown) =>
  reply.code(status).header('cache-control', 'no-store').type('application/json').send(JSON.stringify(body));

/** `validate_auth` + the access token lookup: the live access token of the Authorization header holding the DCR scope */
async function registrant(svc: Services, req: FastifyRequest): Promise<UsersTable> {
  const header = (req.headers.authorization ?? '').trim();
  const idx = header.indexOf(' ');
  const raw = idx > 0 && header.slice(0, idx).toLowerCase() === 'bearer' ? header.slice(idx + 1).trim() : '';
  const token = raw ? await findAccessToken(svc.db, raw) : undefined;
  // (a DPoP-bound token is no bearer credential here)
  const user =
    token && isLive(token) && !token.dpop_jkt && parseScope(token.scope).has(SCOPE_AUTHENTIK_DCR)
      ? await userById(svc.db, token.user_id)
      : undefined;
  if (!user?.is_active)
    throw new DcrError(
      'invalid_token',
      `A valid access token with the '${SCOPE_AUTHENTIK_DCR}' scope is required to register clients.`,
      401,
    );
  return user;
}

interface Metadata {
  redirectUris: string[];
  clientType: 'confidential' | 'public';
  authMethod: string;
  grantTypes: string[];
  clientName: string;
}

/** the body's client metadata, as authentik reads it */
function metadataOf(body: unknown, dcr: DcrSettings): Metadata {
  let m: unknown;
  try {
    m = JSON.parse(typeof body === 'string' ? body : '');
  } catch {
    throw new DcrError('invalid_client_metadata', 'Request body must be valid JSON.');
  }
  if (m === null || typeof m !== 'object' || Array.isArray(m))
    throw new DcrError('invalid_client_metadata', 'Request body must be a JSON object.');
  const meta = m as Record<string, unknown>;
  const uris = meta.redirect_uris;
  if (!Array.isArray(uris) || !uris.length)
    throw new DcrError('invalid_redirect_uri', 'redirect_uris is required and must be a non-empty list.');
  if (!uris.every((u): u is string => typeof u === 'string'))
    throw new DcrError('invalid_redirect_uri', 'All redirect_uris must be strings.');
  if (uris.some((u) => u.trim() === '' || FORBIDDEN_URI_SCHEMES.has(schemeOf(u))))
    throw new DcrError('invalid_redirect_uri', 'A redirect URI is empty or has a scheme that is not allowed.');
  const authMethod = typeof meta.token_endpoint_auth_method === 'string' ? meta.token_endpoint_auth_method : 'client_secret_basic';
  const requested = meta.grant_types ?? ['authorization_code'];
  if (!Array.isArray(requested)) throw new DcrError('invalid_client_metadata', 'grant_types must be an array.');
  let grants: unknown[] = requested;
  if (dcr.allowed_grant_types.length) grants = grants.filter((g) => dcr.allowed_grant_types.includes(g as string));
  const known = [...new Set(grants.filter((g): g is string => (GRANT_TYPES as readonly unknown[]).includes(g)))];
  if (!known.length) {
    if (dcr.allowed_grant_types.length && !dcr.allowed_grant_types.includes('authorization_code'))
      throw new DcrError('invalid_client_metadata', 'None of the requested grant types is allowed.');
    known.push('authorization_code');
  }
  const name = meta.client_name ?? '';
  if (typeof name !== 'string') throw new DcrError('invalid_client_metadata', 'client_name must be a string.');
  return {
    redirectUris: uris as string[],
    clientType: AUTH_METHODS[authMethod] ?? 'confidential',
    authMethod: authMethod in AUTH_METHODS ? authMethod : 'client_secret_basic',
    grantTypes: known,
    clientName: name.trim().slice(0, 200),
  };
}

/** `base`, or `base-1`, `base-2`, … : the first value `taken` says is free */
async function firstFree(base: string, taken: (v: string) => Promise<boolean>): Promise<string> {
  let candidate = base;
  for (let n = 1; await taken(candidate); n++) candidate = `${base}-${n}`;
  return candidate;
}

/** the provider, the application and the bindings of one registration, in `tx`; the new provider's id */
async function register(
  tx: Tx,
  svc: Services,
  req: FastifyRequest,
  ctx: { def: ProviderDef; provider: OAuth2Provider; dcr: DcrSettings; user: UsersTable; meta: Metadata },
) {
  const { provider, dcr, user, meta } = ctx;
  // configuration writes one at a time across nodes (PostgreSQL), so two registrations do not pick the same free name
  await lockConfigEpoch(tx);
  attachSecrets(tx, secretsOf(svc.db)); // the provider's resource seals its secret through the transaction
  const caller = { user, superuser: false, via: 'token' as const };
  const write = { caller, mode: 'create' as const, req, initialPermissions: false as const };
  // a free provider name, and one whose client_credentials service account (`ak-<name>-client_credentials`, found by
  // that name) does not exist yet: a registrant must not pick up the account a deleted provider of that name left
  const providerName = await firstFree(meta.clientName || `dcr-${randomUUID().slice(0, 8)}`, async (name) =>
    Boolean(
      (await tx.selectFrom('providers').select('id').where('name', '=', name).executeTakeFirst()) ??
        (await tx
          .selectFrom('users')
          .select('id')
          .where('username', '=', `ak-${name.slice(0, 128)}-client_credentials`)
          .executeTakeFirst()),
    ),
  );
  const id = Number(
    await writeWithin(
      tx,
      providerResource(ctx.def),
      {
        name: providerName,
        client_type: meta.clientType,
        grant_types: meta.grantTypes,
        authorization_flow: dcr.override_authorization_flow ?? provider.authorization_flow,
        invalidation_flow: dcr.override_invalidation_flow ?? provider.invalidation_flow,
        access_token_validity: dcr.access_token_validity || provider.access_token_validity,
        refresh_token_validity: dcr.refresh_token_validity || provider.refresh_token_validity,
        redirect_uris: meta.redirectUris.map((url) => ({ matching_mode: 'strict', url })),
        property_mappings: dcr.override_property_mappings.length ? dcr.override_property_mappings : provider.property_mappings,
      },
      write,
    ),
  );
  const made = await tx
    .selectFrom('provider_oauth2')
    .select(['client_id', 'client_secret'])
    .where('provider_id', '=', id)
    .executeTakeFirstOrThrow();
  const clientId = made.client_id;
  const slug = await firstFree((slugify(meta.clientName || clientId).slice(0, 200) || 'client').toLowerCase(), async (s) =>
    Boolean(await tx.selectFrom('applications').select('pbm_uuid').where('slug', '=', s).executeTakeFirst()),
  );
  await writeWithin(
    tx,
    applicationResource,
    {
      name: meta.clientName || clientId,
      slug,
      provider: id,
      group: dcr.default_application_group,
      policy_engine_mode: dcr.policy_engine_mode,
    },
    write,
  );
  const app = await tx.selectFrom('applications').select(['pbm_uuid', 'name']).where('slug', '=', slug).executeTakeFirstOrThrow();
  // the settings' bindings, else the base application's, copied with new keys (expired ones count as absent)
  const bindingsOf = (target: string) =>
    tx.selectFrom('policy_bindings').selectAll().where('target', '=', target).where(liveBinding()).execute();
  let bindings = await bindingsOf(dcr.pbm_uuid);
  if (!bindings.length && provider.application) bindings = await bindingsOf(provider.application.pbm_uuid);
  if (bindings.length)
    await tx
      .insertInto('policy_bindings')
      .values(bindings.map((b) => ({ ...b, policy_binding_uuid: randomUUID(), target: app.pbm_uuid })))
      .execute();
  const who = { pk: user.id, username: user.username, email: user.email };
  await svc.events.emit(
    'model_created',
    { user: who, req, context: { model: { app: 'authentik_providers_oauth2', model_name: 'oauth2provider', pk: id, name: providerName } } },
    tx,
  );
  await svc.events.emit(
    'model_created',
    { user: who, req, context: { model: { app: 'authentik_core', model_name: 'application', pk: app.pbm_uuid, name: app.name } } },
    tx,
  );
  return { clientId, sealedSecret: made.client_secret };
}

export async function registrationEndpoint(svc: Services, def: ProviderDef, req: FastifyRequest, reply: FastifyReply) {
  const slug = (req.params as { slug: string }).slug;
  const provider = await oauth2ProviderByAppSlug(svc, slug);
  if (!provider) return reply.code(404).type('text/html').send('<h1>Not Found</h1>');
  const dcr = await dcrOf(svc, provider.id);
  if (!dcr)
    return send(reply, 404, { error: 'not_found', error_description: 'Dynamic client registration is not enabled for this provider.' });
  try {
    const user = await registrant(svc, req);
    const access = await applicationAllows(svc, provider, user, req, {});
    if (!access.passing) throw new DcrError('access_denied', 'Policy check failed for client registration.', 403);
    const meta = metadataOf(req.body, dcr);
    const made = await svc.db.transaction().execute((tx) => register(tx, svc, req, { def, provider, dcr, user, meta }));
    const out: Record<string, unknown> = {
      client_id: made.clientId,
      client_id_issued_at: Math.floor(Date.now() / 1000),
      redirect_uris: meta.redirectUris,
      grant_types: meta.grantTypes,
      token_endpoint_auth_method: meta.authMethod,
    };
    if (meta.clientType === 'confidential') {
      out.client_secret = secretsOf(svc.db).open('provider_oauth2.client_secret', made.sealedSecret);
      out.client_secret_expires_at = 0;
    }
    if (meta.clientName) out.client_name = meta.clientName;
    req.log.info({ client_id: made.clientId, registered_by: user.username }, 'DCR: registered new client');
    return send(reply, 201, out);
  } catch (e) {
    if (e instanceof DcrError) return send(reply, e.status, { error: e.error, error_description: e.description });
    // metadata the provider or application would not take (a redirect URI too long, …): the field errors, as text
    if (e instanceof ValidationError)
      return send(reply, 400, { error: 'invalid_client_metadata', error_description: JSON.stringify(e.body()) });
    throw e;
  }
}
