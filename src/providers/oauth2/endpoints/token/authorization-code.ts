/**
 * The authorization_code grant (authentik's `__post_init_code` and `create_code_response`), as steps:
 *
 *   codePresent → redirectUri → codeFound → codeLive → codeOfClient → pkce → user → mint → redeem
 *
 * The code is claimed by an atomic UPDATE in the transaction that writes its tokens (tokens/store.ts): two
 * redemptions at once, on one node or two, produce tokens once; the later one finds the code used, revokes
 * what it produced and gets invalid_grant.
 */
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../../../services.js';
import { userById } from '../../../../users/by-id.js';
import { SCOPE_OFFLINE_ACCESS } from '../../protocol/constants.js';
import { TokenError } from '../../protocol/errors.js';
import { verifyPkce } from '../../protocol/pkce.js';
import { checkRedirectUri, entriesOfType } from '../../protocol/redirect-uri.js';
import { parseScope } from '../../protocol/scopes.js';
import type { ProviderKeys } from '../../protocol/sign.js';
import { findCode, insertAccessToken, insertRefreshToken, isLive, redeemCode } from '../../tokens/store.js';
import { type GrantBase, mintAccessToken, mintRefreshToken, tokenResponse } from '../issue.js';
import type { TokenRequest } from './request.js';

export async function authorizationCodeGrant(
  svc: Services,
  req: FastifyRequest,
  t: TokenRequest,
  keys: ProviderKeys,
  origin: string,
): Promise<Record<string, unknown>> {
  const raw = t.form.code;
  // codePresent
  if (!raw) throw new TokenError('invalid_grant').withCause('code_missing');
  // redirectUri: one of the provider's (authentik answers invalid_client), never a forbidden scheme
  const redirectUri = t.form.redirect_uri ?? '';
  const check = checkRedirectUri(redirectUri, entriesOfType(t.provider.redirect_uris, 'authorization'));
  if (!check.ok)
    throw check.cause === 'redirect_uri_forbidden_scheme'
      ? new TokenError('invalid_request').withCause(check.cause)
      : new TokenError('invalid_client').withCause(check.cause);
  // codeFound, codeLive, codeOfClient
  const code = await findCode(svc.db, raw);
  if (!code) throw new TokenError('invalid_grant').withCause('code_unknown');
  if (code.provider_id !== t.provider.id) throw new TokenError('invalid_grant').withCause('code_other_client');
  if (!isLive(code)) throw new TokenError('invalid_grant').withCause('code_expired');
  // (RFC 6749 §4.1.3: the redirect_uri of the authorization request)
  if (code.redirect_uri !== redirectUri) throw new TokenError('invalid_grant').withCause('redirect_uri_differs');
  // pkce
  if (!verifyPkce(code, t.form.code_verifier)) throw new TokenError('invalid_grant').withCause('pkce');
  // dpop: a code asked for with `dpop_jkt` is redeemed only with a proof by that key (RFC 9449 §10)
  if (code.dpop_jkt && code.dpop_jkt !== t.dpop?.jkt) throw new TokenError('invalid_dpop_proof').withCause('dpop_jkt_differs');
  // user
  const user = await userById(svc.db, code.user_id);
  if (!user || !user.is_active) throw new TokenError('invalid_grant').withCause('user_inactive');
  // mint: the code's scopes (not the request's), its nonce, session and login
  const scope = [...parseScope(code.scope)];
  const g: GrantBase = {
    svc,
    req,
    origin,
    provider: t.provider,
    keys,
    user,
    scope,
    authTime: new Date(code.auth_time),
    sid: code.session_id,
    amr: code.amr ? (JSON.parse(code.amr) as string[]) : null,
    nonce: code.nonce,
    codeId: code.id,
    dpopJkt: t.dpop?.jkt,
  };
  const access = await mintAccessToken(g);
  const refresh = scope.includes(SCOPE_OFFLINE_ACCESS) ? await mintRefreshToken(g, access) : undefined;
  // redeem: once
  const redeemed = await redeemCode(svc.db, code.id, async (tx) => {
    await insertAccessToken(tx, access.row);
    if (refresh) await insertRefreshToken(tx, refresh.row);
  });
  if (!redeemed) {
    await svc.events.emit('suspicious_request', {
      user: { pk: user.id, username: user.username, email: user.email },
      req,
      context: { message: 'Authorization code was used twice; the tokens it produced are revoked', provider: t.provider.name },
    });
    throw new TokenError('invalid_grant').withCause('code_reused');
  }
  return tokenResponse(g, access, refresh);
}
