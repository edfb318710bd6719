/**
 * What the protocol code reads of a provider and a user — structural subsets of src/providers/oauth2/config.ts's
 * `OAuth2Provider` and of a users row, so every step here is a pure function of plain values — and the key pairs'
 * types of src/crypto/keys.ts.
 */
import type { PublicKey, SigningKey } from '../../../crypto/keys.js';
import type { RedirectUri } from '../config.js';

export type { PublicKey, SigningKey, RedirectUri };

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

/** how the protocol reaches key pairs (src/crypto/keys.ts `signingKeyOf` / `publicKeyOf`, bound to the services) */
export interface KeyLookup {
  signingKeyOf(kpUuid: string): Promise<SigningKey | undefined>;
  publicKeyOf(kpUuid: string): Promise<PublicKey | undefined>;
}
