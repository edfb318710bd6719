/**
 * The token request (authentik's `TokenParams`): the client it authenticates as, and the grant's parameters. Steps:
 *
 *   client → grantAllowed → clientSecret (confidential clients, every grant but client credentials and password) → scope
 *
 * then the grant's own steps (authorization-code.ts, refresh-token.ts, client-credentials.ts).
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../../services.js';
import { type OAuth2Provider, oauth2ProviderByClientId } from '../../config.js';
import {
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_CLIENT_CREDENTIALS,
  GRANT_TYPE_DEVICE_CODE,
  GRANT_TYPE_PASSWORD,
  GRANT_TYPE_REFRESH_TOKEN,
  GRANT_TYPE_TOKEN_EXCHANGE,
} from '../../protocol/constants.js';
import { TokenError } from '../../protocol/errors.js';
import { intersectScopes, parseScope } from '../../protocol/scopes.js';
import { scopeNamesOf } from '../claims.js';
import type { DPoPProof } from '../../protocol/dpop.js';
import { clientAuthOf, formOf, type Params, secretMatches } from '../http.js';

export interface TokenRequest {
  form: Params;
  provider: OAuth2Provider;
  clientId: string;
  clientSecret: string;
  grantType: string;
  /** requested scopes, intersected with the provider's */
  scope: Set<string>;
  providerScopes: Set<string>;
  /** the request's DPoP proof (RFC 9449), checked: the tokens issued are bound to its key */
  dpop?: DPoPProof;
}

/** client: the provider of the client_id (Basic or form); unknown → invalid_client */
async function client(svc: Services, req: FastifyRequest, form: Params) {
  const { clientId, clientSecret } = clientAuthOf(req, form);
  const provider = clientId ? await oauth2ProviderByClientId(svc, clientId) : undefined;
  if (!provider) throw new TokenError('invalid_client').withCause('client_unknown');
  return { provider, clientId, clientSecret };
}

/**
 * clientSecret: confidential clients prove their secret (RFC 6749 §2.3.1) for the code, refresh, device code
 * (RFC 8628 §3.4) and token exchange (RFC 8693 §2.1) grants — neither a device code nor a subject token stands in
 * for the client's credentials. (The client credentials and password grants check their own.)
 */
const SECRET_GRANTS = new Set([GRANT_TYPE_AUTHORIZATION_CODE, GRANT_TYPE_REFRESH_TOKEN, GRANT_TYPE_DEVICE_CODE, GRANT_TYPE_TOKEN_EXCHANGE]);
function clientSecret(t: TokenRequest) {
  if (!SECRET_GRANTS.has(t.grantType)) return;
  if (t.provider.client_type === 'confidential' && !secretMatches(t.clientSecret, t.provider.client_secret))
    throw new TokenError('invalid_client').withCause('client_secret_invalid');
}

const TOKEN_GRANTS = new Set([
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_REFRESH_TOKEN,
  GRANT_TYPE_CLIENT_CREDENTIALS,
  GRANT_TYPE_PASSWORD,
  GRANT_TYPE_DEVICE_CODE,
  GRANT_TYPE_TOKEN_EXCHANGE,
]);

/** grantAllowed: a grant of the token endpoint, and one the provider allows (authentik: else invalid_grant) */
function grantAllowed(t: TokenRequest) {
  if (!TOKEN_GRANTS.has(t.grantType)) throw new TokenError('unsupported_grant_type');
  if (!t.provider.grant_types.includes(t.grantType)) throw new TokenError('invalid_grant').withCause('grant_type_not_configured');
}

export async function tokenRequest(svc: Services, req: FastifyRequest): Promise<TokenRequest> {
  const form = formOf(req);
  const c = await client(svc, req, form);
  const providerScopes = await scopeNamesOf(svc, c.provider);
  const t: TokenRequest = {
    form,
    ...c,
    grantType: form.grant_type ?? '',
    scope: intersectScopes(parseScope(form.scope), providerScopes),
    providerScopes,
  };
  grantAllowed(t);
  clientSecret(t);
  return t;
}
