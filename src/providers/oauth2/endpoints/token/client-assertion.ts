/**
 * A client_credentials (or password) grant with a client assertion (authentik's `__post_init_client_credentials_jwt`
 * and `__validate_jwt_from_provider`): `client_assertion_type` must be JWT bearer; the assertion
 * (`client_assertion`, else `client_secret`) must be an access token issued by one of the provider's
 * `jwt_federation_providers` — found among that provider's stored tokens, live, and verified with that provider's key
 * (any audience; its expiry checked; never a DPoP-bound one). The grant is for the user the token was issued to. Before them, as authentik,
 * the `jwt_federation_sources`: a JWT a source's identity provider signed (source-assertion.ts), for a service account.
 * An assertion neither verifies is invalid_grant.
 */
import type { UsersTable } from '../../../../db/types.js';
import type { Services } from '../../../../services.js';
import { userById } from '../../../../users/by-id.js';
import { oauth2ProviderById } from '../../config.js';
import { CLIENT_ASSERTION_TYPE_JWT } from '../../protocol/constants.js';
import { TokenError } from '../../protocol/errors.js';
import { verificationKeyOf, verifyJwt } from '../../protocol/verify.js';
import { findAccessToken, isLive } from '../../tokens/store.js';
import { keysOf } from '../keys.js';
import type { TokenRequest } from './request.js';
import { federatedServiceAccount, sourceAssertion } from './source-assertion.js';

export interface Asserted {
  user: UsersTable;
  jwt: Record<string, unknown>;
  /** who vouched for it (the login event's `auth_method_args`): a federated provider, or a source */
  by:
    | { provider: { app: string; model_name: string; pk: number; name: string } }
    | { source: { app: string; model_name: string; pk: string; name: string; slug: string } };
}

export async function clientAssertion(svc: Services, t: TokenRequest): Promise<Asserted> {
  if (t.form.client_assertion_type !== CLIENT_ASSERTION_TYPE_JWT) throw new TokenError('invalid_grant').withCause('assertion_type');
  const assertion = t.form.client_assertion ?? t.form.client_secret ?? '';
  if (!assertion) throw new TokenError('invalid_grant').withCause('assertion_missing');
  return federatedJwt(svc, t, assertion);
}

/**
 * a JWT the provider's federation trusts — a federated source's identity provider signed it, or a federated provider
 * issued it as an access token and holds it still — and whom it stands for; else invalid_grant (the token exchange's
 * subject token is checked the same way)
 */
export async function federatedJwt(svc: Services, t: TokenRequest, assertion: string): Promise<Asserted> {
  const fromSource = await sourceAssertion(svc, t, assertion);
  if (fromSource) {
    const user = await federatedServiceAccount(svc, t, fromSource);
    const s = fromSource.source;
    return {
      user,
      jwt: fromSource.jwt,
      by: { source: { app: 'authentik_sources_oauth', model_name: 'oauthsource', pk: s.pk, name: s.name, slug: s.slug } },
    };
  }
  const federated = t.provider.jwt_federation_providers;
  const row = federated.length ? await findAccessToken(svc.db, assertion) : undefined;
  if (!row || !federated.includes(row.provider_id) || !isLive(row)) throw new TokenError('invalid_grant').withCause('assertion_unknown');
  // a DPoP-bound token is only good with a proof by its key, which nobody presents here
  if (row.dpop_jkt) throw new TokenError('invalid_grant').withCause('assertion_dpop_bound');
  const issuer = await oauth2ProviderById(svc, row.provider_id);
  if (!issuer) throw new TokenError('invalid_grant').withCause('assertion_unknown');
  const keys = await keysOf(svc, issuer);
  const jwt = await verifyJwt(assertion, [verificationKeyOf(keys.signer)]);
  if (!jwt) throw new TokenError('invalid_grant').withCause('assertion_signature');
  const user = await userById(svc.db, row.user_id);
  if (!user) throw new TokenError('invalid_grant').withCause('assertion_user');
  return {
    user,
    jwt: jwt as Record<string, unknown>,
    by: { provider: { app: 'authentik_providers_oauth2', model_name: 'oauth2provider', pk: issuer.id, name: issuer.name } },
  };
}
