/** The key pairs as the protocol reaches them (src/crypto/keys.ts bound to the services), and a provider's keys. */
import type { Services } from '../../../services.js';
import { publicKeyOf, signingKeyOf } from '../../../crypto/keys.js';
import { providerKeys, type ProviderKeys } from '../protocol/sign.js';
import type { KeyLookup } from '../protocol/types.js';
import type { OAuth2Provider } from '../config.js';

export const keyLookupOf = (svc: Services): KeyLookup => ({
  signingKeyOf: (uuid) => signingKeyOf(svc, uuid),
  publicKeyOf: (uuid) => publicKeyOf(svc, uuid),
});

/** the provider's signer and JWE recipient */
export const keysOf = (svc: Services, provider: OAuth2Provider): Promise<ProviderKeys> => providerKeys(provider, keyLookupOf(svc));
