/**
 * A service provider's AuthnRequest as the SAML provider reads it (authentik's AuthNRequestParser): from either
 * binding (incoming.ts: decoding and the signature rule) or none at all (IdP-initiated). The request's ACS URL, when
 * it names one, must be the provider's (compared without case, as authentik does); its NameID policy, else the
 * provider's default, decides the NameID's format.
 */
import { NAME_ID } from '../../saml/constants.js';
import { CANNOT_DECODE } from '../../saml/message.js';
import { attr, childOf, NS, SamlError } from '../../saml/xml.js';
import type { SamlProvider } from './config.js';
import { checkedMessage, type Incoming, type MessageBinding } from './incoming.js';

/** what the assertion answers (authentik's AuthNRequest) */
export interface AuthnRequest {
  /** the request's ID (InResponseTo); null for an IdP-initiated login */
  id: string | null;
  relay_state: string | null;
  name_id_policy: string;
}

export function parseAuthnRequest(provider: SamlProvider, m: Incoming, binding: MessageBinding, verifierPem?: string): AuthnRequest {
  const el = checkedMessage(provider, m, binding, verifierPem, 'AuthnRequest');
  if (el.namespaceURI !== NS.samlp || el.localName !== 'AuthnRequest') throw new SamlError(CANNOT_DECODE);
  const acs = attr(el, 'AssertionConsumerServiceURL') ?? provider.acs_url;
  if (provider.acs_url.toLowerCase() !== acs.toLowerCase())
    throw new SamlError(`ACS URL of ${acs} doesn't match Provider ACS URL of ${provider.acs_url}.`);
  const policy = childOf(el, NS.samlp, 'NameIDPolicy');
  const format = policy ? attr(policy, 'Format') : null;
  return {
    id: attr(el, 'ID'),
    relay_state: m.RelayState ?? null,
    name_id_policy: format && format !== NAME_ID.unspecified ? format : provider.default_name_id_policy,
  };
}

/** an IdP-initiated login: no request, the provider's default relay state */
export const idpInitiated = (provider: SamlProvider): AuthnRequest => ({
  id: null,
  relay_state: provider.default_relay_state !== '' ? provider.default_relay_state : null,
  name_id_policy: provider.default_name_id_policy,
});
