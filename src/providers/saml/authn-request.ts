/**
 * A service provider's AuthnRequest as the SAML provider reads it (authentik's AuthNRequestParser): from the POST
 * binding (base64, an enveloped signature), the redirect binding (deflated, a detached query signature) or none at
 * all (IdP-initiated). With a verification certificate a request must be signed and its signature must hold; without
 * one a signed request is refused (authentik's rule). The request's ACS URL, when it names one, must be the
 * provider's (compared without case, as authentik does).
 */
import { redirectSignatureHolds } from '../../saml/redirect-binding.js';
import { NAME_ID } from '../../saml/constants.js';
import { CANNOT_DECODE, messageXml } from '../../saml/message.js';
import { verifiedElement } from '../../saml/signature.js';
import { attr, childOf, childrenOf, NS, parseXml, SamlError } from '../../saml/xml.js';
import type { SamlProvider } from './config.js';

export const ERROR_CANNOT_DECODE_REQUEST = CANNOT_DECODE;
export const ERROR_SIGNATURE_REQUIRED_BUT_ABSENT = 'Verification Certificate configured, but request is not signed.';
export const ERROR_SIGNATURE_EXISTS_BUT_NO_VERIFIER = 'Provider does not have a Validation Certificate configured.';
export const ERROR_FAILED_TO_VERIFY = 'Failed to verify signature';

/** what the assertion answers (authentik's AuthNRequest) */
export interface AuthnRequest {
  /** the request's ID (InResponseTo); null for an IdP-initiated login */
  id: string | null;
  relay_state: string | null;
  name_id_policy: string;
}

/** the AuthnRequest of a decoded message: the root checked, the ACS URL matched, the NameID policy read */
function read(provider: SamlProvider, xml: string, relayState: string | null, root?: Element): AuthnRequest {
  const el = root ?? parseXml(xml);
  if (el.namespaceURI !== NS.samlp || el.localName !== 'AuthnRequest') throw new SamlError(ERROR_CANNOT_DECODE_REQUEST);
  const acs = attr(el, 'AssertionConsumerServiceURL') ?? provider.acs_url;
  if (provider.acs_url.toLowerCase() !== acs.toLowerCase())
    throw new SamlError(`ACS URL of ${acs} doesn't match Provider ACS URL of ${provider.acs_url}.`);
  const policy = childOf(el, NS.samlp, 'NameIDPolicy');
  const format = policy ? attr(policy, 'Format') : null;
  return {
    id: attr(el, 'ID'),
    relay_state: relayState,
    name_id_policy: format && format !== NAME_ID.unspecified ? format : provider.default_name_id_policy,
  };
}

/** the POST binding: base64 XML, its enveloped signature checked when the provider has a verification certificate */
export function parsePostRequest(
  provider: SamlProvider,
  samlRequest: string,
  relayState: string | null,
  verifierPem?: string,
): AuthnRequest {
  const xml = messageXml(samlRequest, false);
  const root = parseXml(xml);
  const signed = childrenOf(root, NS.ds, 'Signature').length > 0;
  if (!provider.verification_kp) {
    if (signed) throw new SamlError(ERROR_SIGNATURE_EXISTS_BUT_NO_VERIFIER);
    return read(provider, xml, relayState, root);
  }
  if (!signed) throw new SamlError(ERROR_SIGNATURE_REQUIRED_BUT_ABSENT);
  if (!verifierPem) throw new SamlError(ERROR_FAILED_TO_VERIFY);
  let verified: Element;
  try {
    verified = verifiedElement(xml, root, verifierPem, 'AuthnRequest');
  } catch {
    throw new SamlError(ERROR_FAILED_TO_VERIFY);
  }
  // what is read is what was signed
  return read(provider, xml, relayState, verified);
}

/**
 * The redirect binding: deflated base64 XML. The detached signature covers `SAMLRequest=…&RelayState=…&SigAlg=…` as
 * the SP encoded them (SAML bindings §3.4.4.1), so it is checked over the query's own octets.
 */
export function parseRedirectRequest(
  provider: SamlProvider,
  params: { SAMLRequest: string; RelayState?: string; Signature?: string; SigAlg?: string },
  rawQuery: string,
  verifierPem?: string,
): AuthnRequest {
  const xml = messageXml(params.SAMLRequest, true);
  const relayState = params.RelayState ?? null;
  const signed = params.Signature !== undefined && params.SigAlg !== undefined;
  if (provider.verification_kp && !signed) throw new SamlError(ERROR_SIGNATURE_REQUIRED_BUT_ABSENT);
  if (signed) {
    if (!provider.verification_kp) throw new SamlError(ERROR_SIGNATURE_EXISTS_BUT_NO_VERIFIER);
    if (!verifierPem) throw new SamlError(ERROR_FAILED_TO_VERIFY);
    const ok = redirectSignatureHolds(rawQuery, 'SAMLRequest', params.SigAlg!, params.Signature!, verifierPem);
    if (!ok) throw new SamlError(ERROR_FAILED_TO_VERIFY);
  }
  return read(provider, xml, relayState);
}

/** an IdP-initiated login: no request, the provider's default relay state */
export const idpInitiated = (provider: SamlProvider): AuthnRequest => ({
  id: null,
  relay_state: provider.default_relay_state !== '' ? provider.default_relay_state : null,
  name_id_policy: provider.default_name_id_policy,
});
