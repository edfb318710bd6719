/**
 * GET/POST /application/o/userinfo/ (authentik's UserInfoView behind `protected_resource_view(["openid"])`): the
 * bearer access token — the JWT the token endpoint issued — is looked up, must be live and hold `openid`; the answer
 * is `sub` from its ID token, the claims of its scopes, and its nonce.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../services.js';
import { userById } from '../../../users/by-id.js';
import { oauth2ProviderById } from '../config.js';
import { SCOPE_OPENID } from '../protocol/constants.js';
import { BearerTokenError } from '../protocol/errors.js';
import { parseIdToken } from '../protocol/id-token.js';
import { parseScope } from '../protocol/scopes.js';
import { type AccessTokenRow, findAccessToken, isLive } from '../tokens/store.js';
import { claimsOf } from './claims.js';
import { accessTokenOf, corsAllow, sendBearerError, sendToken } from './http.js';
import { checkBinding, presentedToken } from './dpop.js';

/** `protected_resource_view`: the live access token of the request holding `scopes`, else a BearerTokenError */
export async function protectedResource(svc: Services, req: FastifyRequest, scopes: string[]): Promise<AccessTokenRow> {
  const dpop = presentedToken(req);
  const raw = dpop?.token ?? accessTokenOf(req);
  if (!raw) throw new BearerTokenError('invalid_token');
  const token = await findAccessToken(svc.db, raw);
  if (!token) throw new BearerTokenError('invalid_token');
  if (token.revoked) {
    const user = await userById(svc.db, token.user_id);
    await svc.events.emit('suspicious_request', {
      user: user ? { pk: user.id, username: user.username, email: user.email } : null,
      req,
      context: { message: 'Revoked access token was used' },
    });
    throw new BearerTokenError('invalid_token');
  }
  if (!isLive(token)) throw new BearerTokenError('invalid_token');
  // a DPoP-bound token only with a proof by its key; a bearer token never under the DPoP scheme
  await checkBinding(svc, req, token, raw, dpop !== undefined);
  const has = parseScope(token.scope);
  if (!scopes.every((s) => has.has(s))) throw new BearerTokenError('insufficient_scope');
  return token;
}

export async function userinfoEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  if (req.method === 'OPTIONS') {
    corsAllow(req, reply, []);
    return sendToken(reply, {});
  }
  let token: AccessTokenRow;
  try {
    token = await protectedResource(svc, req, [SCOPE_OPENID]);
  } catch (e) {
    if (e instanceof BearerTokenError) return sendBearerError(reply, e);
    throw e;
  }
  const provider = await oauth2ProviderById(svc, token.provider_id);
  const user = await userById(svc.db, token.user_id);
  if (!provider || !user) return sendBearerError(reply, new BearerTokenError('invalid_token'));
  const idToken = parseIdToken(token.id_token);
  const claims: Record<string, unknown> = { sub: idToken.sub };
  Object.assign(claims, await claimsOf(svc, provider, user, parseScope(token.scope), req, { scope: token.scope }));
  if (idToken.nonce) claims.nonce = idToken.nonce;
  corsAllow(req, reply, provider.redirect_uris);
  return sendToken(reply, claims);
}
