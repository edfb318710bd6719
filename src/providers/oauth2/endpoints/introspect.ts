/**
 * POST /application/o/introspect/ (RFC 7662, authentik's TokenIntrospectionView): the client authenticates (Basic or
 * form); a live access or refresh token of that client answers its ID token's claims with `active`, `scope` and
 * `client_id`; anything else answers `{"active": false}`.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { type OAuth2Provider, oauth2ProviderByClientId } from '../config.js';
import { idTokenClaims, parseIdToken } from '../protocol/id-token.js';
import { findAccessToken, findRefreshToken, isLive } from '../tokens/store.js';
import { clientAuthOf, formOf, secretMatches, sendToken } from './http.js';

/** `authenticate_provider`: the provider whose client id and secret the request presents */
export async function authenticatedClient(svc: Services, req: FastifyRequest): Promise<OAuth2Provider | undefined> {
  const { clientId, clientSecret } = clientAuthOf(req, formOf(req));
  if (!clientId && !clientSecret) return undefined;
  const provider = clientId ? await oauth2ProviderByClientId(svc, clientId) : undefined;
  if (!provider || !secretMatches(clientSecret, provider.client_secret)) return undefined;
  return provider;
}

export async function introspectEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const inactive = () => sendToken(reply, { active: false });
  const provider = await authenticatedClient(svc, req);
  const raw = formOf(req).token;
  if (!provider || !raw) return inactive();
  const token = (await findAccessToken(svc.db, raw)) ?? (await findRefreshToken(svc.db, raw));
  if (!token || token.provider_id !== provider.id || !isLive(token)) return inactive();
  const body: Record<string, unknown> = idTokenClaims(parseIdToken(token.id_token));
  body.active = true;
  body.scope = token.scope;
  body.client_id = provider.client_id;
  // RFC 9449 §6.2: a bound token's key, for the resource server to check the proof against
  if (token.dpop_jkt) {
    body.cnf = { jkt: token.dpop_jkt };
    body.token_type = 'DPoP';
  }
  return sendToken(reply, body);
}
