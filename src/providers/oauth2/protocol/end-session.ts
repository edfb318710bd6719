/**
 * RP-initiated logout's request (authentik's `EndSessionView.validate`, views/end_session.py): an `id_token_hint`
 * must be one of the provider's ID tokens (signature, audience, issuer — an expired one is fine); a
 * `post_logout_redirect_uri` needs the hint, may not have a forbidden scheme and must match one of the provider's
 * `logout` redirect URIs (strict or regex); `state` is appended to it. Failures are `invalid_request` with a cause.
 * And the back-channel logout token (OpenID Connect Back-Channel Logout 1.0 §2.4) sent to the provider's logout_uri.
 */
import { decodeJwt } from 'jose';
import { FORBIDDEN_URI_SCHEMES } from './constants.js';
import { pyQuote, schemeOf, TokenError } from './errors.js';
import { generateId } from './random.js';
import { entriesOfType, entryMatches } from './redirect-uri.js';
import type { RedirectUri } from './types.js';
import { type VerificationKey, verifyJwt } from './verify.js';

export interface EndSessionRequest {
  /** the validated post-logout redirect, with `state` appended; undefined when none was asked for */
  postLogoutRedirectUri?: string;
  /** the hint's claims, when one was given */
  hint?: Record<string, unknown>;
}

export async function endSessionRequest(
  q: Record<string, string | undefined>,
  provider: { client_id: string; redirect_uris: readonly RedirectUri[] },
  keys: readonly VerificationKey[],
  issuer: string | undefined,
): Promise<EndSessionRequest> {
  const out: EndSessionRequest = {};
  const hint = q.id_token_hint;
  if (hint) {
    // (ID tokens are short-lived: a logout after expiry is legitimate — the check uses the token's own expiry)
    let exp: number | undefined;
    try {
      const e = decodeJwt(hint).exp;
      exp = typeof e === 'number' ? e : undefined;
    } catch {}
    const payload = await verifyJwt(hint, keys, {
      audience: provider.client_id,
      ...(issuer ? { issuer } : {}),
      ...(exp !== undefined ? { currentDate: new Date(Math.min(Date.now(), (exp - 1) * 1000)) } : {}),
    });
    if (!payload) throw new TokenError('invalid_request').withCause('id_token_hint_decode_failed');
    out.hint = payload as Record<string, unknown>;
  }
  const requested = q.post_logout_redirect_uri;
  if (requested) {
    if (!hint) throw new TokenError('invalid_request').withCause('id_token_hint_missing');
    if (FORBIDDEN_URI_SCHEMES.has(schemeOf(requested))) throw new TokenError('invalid_request').withCause('post_logout_redirect_uri');
    if (!entriesOfType(provider.redirect_uris, 'logout').some((e) => entryMatches(e, requested)))
      throw new TokenError('invalid_request').withCause('invalid_post_logout_redirect_uri');
    out.postLogoutRedirectUri = requested;
    if (q.state) out.postLogoutRedirectUri += `${requested.includes('?') ? '&' : '?'}state=${pyQuote(q.state, '')}`;
  }
  return out;
}

/** the claims of a back-channel logout token */
export function logoutTokenClaims(
  iss: string | undefined,
  clientId: string,
  sub: string | undefined,
  sid: string | undefined,
  now = new Date(),
) {
  const iat = Math.floor(now.getTime() / 1000);
  const claims: Record<string, unknown> = {
    ...(iss ? { iss } : {}),
    aud: clientId,
    iat,
    exp: iat + 120,
    jti: generateId(),
    events: { 'http://schemas.openid.net/event/backchannel-logout': {} },
  };
  if (sub) claims.sub = sub;
  if (sid) claims.sid = sid;
  return claims;
}
