/**
 * What the protocol code reads of a provider, a user and a key pair: structural subsets of the contracts of
 * src/providers/oauth2/config.ts (`OAuth2Provider`, `RedirectUri`) and src/crypto/keys.ts (`SigningKey`,
 * `PublicKey`), so every step here is a pure function of plain values and the full objects fit where these go.
 */
import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';

export interface RedirectUri {
  matching_mode: 'strict' | 'regex';
  url: string;
  redirect_uri_type: 'authorization' | 'logout';
}

export type SubMode = 'hashed_user_id' | 'user_id' | 'user_uuid' | 'user_username' | 'user_email' | 'user_upn';
export type IssuerMode = 'global' | 'per_provider';

/** the provider's settings the protocol steps read */
export interface ProviderSettings {
  client_type: 'confidential' | 'public';
  client_id: string;
  client_secret: string;
  grant_types: string[];
  redirect_uris: RedirectUri[];
  include_claims_in_id_token: boolean;
  signing_key: string | null;
  encryption_key: string | null;
  access_code_validity: string;
  access_token_validity: string;
  refresh_token_validity: string;
  sub_mode: SubMode;
  issuer_mode: IssuerMode;
  application: { slug: string } | null;
}

/** the user fields claims are built from (a users row) */
export interface ClaimsUser {
  id: number;
  uuid: string;
  username: string;
  email: string;
  /** the users row's JSON text, or already parsed */
  attributes: string | Record<string, unknown>;
}

/** a key pair's private key for signing (src/crypto/keys.ts `SigningKey`) */
export interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256' | 'ES384' | 'ES512';
  privateKey: KeyObject;
  publicJwk: JWK;
}

/** a key pair's public key (src/crypto/keys.ts `PublicKey`): JWE recipients, jwks, verification */
export interface PublicKey {
  kid: string;
  alg: string;
  publicKey: KeyObject;
  publicJwk: JWK;
}

/** how the protocol reaches key pairs (src/crypto/keys.ts `signingKeyOf` / `publicKeyOf`, bound to the services) */
export interface KeyLookup {
  signingKeyOf(kpUuid: string): Promise<SigningKey | undefined>;
  publicKeyOf(kpUuid: string): Promise<PublicKey | undefined>;
}
