/**
 * POST /application/o/token/ (authentik's TokenView): the token request's common steps (request.ts), then the
 * grant's. Errors are authentik's bodies: TokenError and DeviceCodeError 400, UserAuthError 403, never cached.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Services } from '../../../../services.js';
import type { OAuth2Provider } from '../../config.js';
import {
  GRANT_TYPE_AUTHORIZATION_CODE,
  GRANT_TYPE_CLIENT_CREDENTIALS,
  GRANT_TYPE_DEVICE_CODE,
  GRANT_TYPE_PASSWORD,
  GRANT_TYPE_REFRESH_TOKEN,
  GRANT_TYPE_TOKEN_EXCHANGE,
} from '../../protocol/constants.js';
import { DeviceCodeError, TokenError, UserAuthError } from '../../protocol/errors.js';
import { corsAllow, originOf, sendToken } from '../http.js';
import { keysOf } from '../keys.js';
import { authorizationCodeGrant } from './authorization-code.js';
import { clientCredentialsGrant } from './client-credentials.js';
import { deviceCodeGrant } from './device-code.js';
import { refreshTokenGrant } from './refresh-token.js';
import { tokenRequest } from './request.js';
import { tokenProof } from '../dpop.js';
import { tokenExchangeGrant } from './token-exchange.js';

const GRANTS = {
  [GRANT_TYPE_AUTHORIZATION_CODE]: authorizationCodeGrant,
  [GRANT_TYPE_REFRESH_TOKEN]: refreshTokenGrant,
  [GRANT_TYPE_CLIENT_CREDENTIALS]: clientCredentialsGrant,
  [GRANT_TYPE_PASSWORD]: clientCredentialsGrant,
  [GRANT_TYPE_DEVICE_CODE]: deviceCodeGrant,
  [GRANT_TYPE_TOKEN_EXCHANGE]: tokenExchangeGrant,
} as const;

export async function tokenEndpoint(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  let provider: OAuth2Provider | undefined;
  try {
    const t = await tokenRequest(svc, req);
    provider = t.provider;
    const grant = GRANTS[t.grantType as keyof typeof GRANTS];
    if (!grant) throw new TokenError('unsupported_grant_type');
    t.dpop = await tokenProof(svc, req);
    const body = await grant(svc, req, t, await keysOf(svc, t.provider), originOf(req, svc.config));
    corsAllow(req, reply, t.provider.redirect_uris);
    return sendToken(reply, body);
  } catch (e) {
    if (provider) corsAllow(req, reply, provider.redirect_uris);
    if (e instanceof TokenError || e instanceof DeviceCodeError) return sendToken(reply, e.body(), 400);
    if (e instanceof UserAuthError) return sendToken(reply, e.body(), 403);
    throw e;
  }
}
