/**
 * The token exchange grant (RFC 8693, `urn:ietf:params:oauth:grant-type:token-exchange`; authentik's "Token exchange",
 * impersonation): a confidential client presents, with its secret, a token it holds for someone — `subject_token`, an
 * access token one of its `jwt_federation_providers` issued (and still holds), or a JWT the identity provider of one
 * of its `jwt_federation_sources` signed (subject-token types `access_token`, `jwt` or `id_token`) — and gets an
 * access token of its own for the same person (a source's JWT: the source's service account, as a client assertion
 * gets), after the application's policies (`oauth_grant_type` the exchange, `oauth_jwt` the subject's claims). Only
 * access tokens are issued (`requested_token_type`, if sent, must ask for one); no refresh token. Delegation
 * (`actor_token`, authentik 2026.8's actors) is refused with invalid_request: Keystage has no actors yet.
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../../services.js';
import { TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT } from '../../protocol/constants.js';
import { TokenError } from '../../protocol/errors.js';
import type { ProviderKeys } from '../../protocol/sign.js';
import { secretMatches } from '../http.js';
import { federatedJwt } from './client-assertion.js';
import { accessTokenFor } from './client-credentials.js';
import type { TokenRequest } from './request.js';

const SUBJECT_TYPES = new Set([TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_JWT, TOKEN_TYPE_ID_TOKEN]);

export async function tokenExchangeGrant(
  svc: Services,
  req: FastifyRequest,
  t: TokenRequest,
  keys: ProviderKeys,
  origin: string,
): Promise<Record<string, unknown>> {
  // the client itself: confidential, with its secret
  if (t.provider.client_type !== 'confidential' || !secretMatches(t.clientSecret, t.provider.client_secret))
    throw new TokenError('invalid_client').withCause('client_secret_invalid');
  const f = t.form;
  if (!f.subject_token || !f.subject_token_type) throw new TokenError('invalid_request').withCause('subject_token_missing');
  if (!SUBJECT_TYPES.has(f.subject_token_type)) throw new TokenError('invalid_request').withCause('subject_token_type');
  if (f.requested_token_type && f.requested_token_type !== TOKEN_TYPE_ACCESS_TOKEN)
    throw new TokenError('invalid_request').withCause('requested_token_type');
  if (f.actor_token || f.actor_token_type) throw new TokenError('invalid_request').withCause('actor_token');
  if (!t.provider.application) throw new TokenError('invalid_grant').withCause('no_application');
  const subject = await federatedJwt(svc, t, f.subject_token);
  const body = await accessTokenFor(svc, req, t, keys, origin, subject.user, {
    method: 'jwt',
    args: { jwt: subject.jwt, ...subject.by },
    policyExtra: { oauth_jwt: subject.jwt },
  });
  return { ...body, issued_token_type: TOKEN_TYPE_ACCESS_TOKEN };
}
