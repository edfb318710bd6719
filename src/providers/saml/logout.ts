/**
 * Single logout's messages (authentik's LogoutRequestParser, LogoutRequestProcessor, LogoutResponse): a service
 * provider's LogoutRequest read from either binding (its signature checked as an AuthnRequest's), and
 * Keystage's LogoutRequest and LogoutResponse, signed when the provider says (`sign_logout_request`,
 * `sign_logout_response`: enveloped for the POST binding, detached for the redirect binding), ready for either binding.
 */
import { randomId, samlTime, STATUS_SUCCESS } from '../../saml/constants.js';
import { redirectBindingUrl, type SigningPair } from '../../saml/redirect-binding.js';
import { signEnveloped } from '../../saml/signature.js';
import { attr, childOf, escapeXml, NS, SamlError, textOf } from '../../saml/xml.js';
import { checkedMessage, type Incoming, type MessageBinding } from './incoming.js';
import type { SamlProvider } from './config.js';

export interface LogoutRequest {
  id: string | null;
  name_id: string | null;
  session_index: string | null;
  relay_state: string | null;
}

function read(el: Element, relayState: string | null): LogoutRequest {
  if (el.namespaceURI !== NS.samlp || el.localName !== 'LogoutRequest') throw new SamlError('The message is not a LogoutRequest.');
  return {
    id: attr(el, 'ID'),
    name_id: textOf(childOf(el, NS.saml, 'NameID')),
    session_index: textOf(childOf(el, NS.samlp, 'SessionIndex')),
    relay_state: relayState,
  };
}

/** a service provider's LogoutRequest by either binding (incoming.ts: decoding and the signature rule) */
export function parseLogoutRequest(provider: SamlProvider, m: Incoming, binding: MessageBinding, verifierPem?: string): LogoutRequest {
  return read(checkedMessage(provider, m, binding, verifierPem, 'LogoutRequest'), m.RelayState ?? null);
}

/** Keystage's LogoutResponse to a service provider's LogoutRequest (Success) */
export function logoutResponseXml(o: { issuer: string; destination: string; inResponseTo: string | null; now?: Date }): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${randomId()}" Version="2.0" ` +
    `IssueInstant="${samlTime(o.now ?? new Date())}" Destination="${escapeXml(o.destination)}"` +
    `${o.inResponseTo ? ` InResponseTo="${escapeXml(o.inResponseTo)}"` : ''}>` +
    `<saml:Issuer>${escapeXml(o.issuer)}</saml:Issuer>` +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status></samlp:LogoutResponse>`
  );
}

/** Keystage's LogoutRequest telling a service provider that the person's session ended */
export function logoutRequestXml(o: {
  issuer: string;
  destination: string;
  nameId: string;
  nameIdFormat: string;
  sessionIndex: string;
  now?: Date;
}): string {
  return (
    `<samlp:LogoutRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${randomId()}" Version="2.0" ` +
    `IssueInstant="${samlTime(o.now ?? new Date())}" Destination="${escapeXml(o.destination)}">` +
    `<saml:Issuer>${escapeXml(o.issuer)}</saml:Issuer>` +
    `<saml:NameID Format="${escapeXml(o.nameIdFormat)}">${escapeXml(o.nameId)}</saml:NameID>` +
    `<samlp:SessionIndex>${escapeXml(o.sessionIndex)}</samlp:SessionIndex></samlp:LogoutRequest>`
  );
}

/** a message as it travels: a redirect URL, or a form's fields to post to the SLS URL */
export type Outgoing = { redirect: string } | { post: { url: string; fields: Record<string, string> } };

/** a message to the provider's SLS URL by its SLS binding, signed when `sign` says (and a key pair is there) */
export function outgoing(
  provider: SamlProvider,
  xml: string,
  param: 'SAMLRequest' | 'SAMLResponse',
  relayState: string | null,
  signing: SigningPair | undefined,
): Outgoing {
  if (provider.sls_binding === 'redirect')
    return {
      redirect: redirectBindingUrl(
        xml,
        { sso_url: provider.sls_url, signature_algorithm: provider.signature_algorithm },
        relayState ?? '',
        signing,
        {
          param,
          to: provider.sls_url,
        },
      ),
    };
  const signed = signing
    ? signEnveloped(xml, signing, { signature: provider.signature_algorithm, digest: provider.digest_algorithm })
    : xml;
  const fields: Record<string, string> = { [param]: Buffer.from(signed, 'utf8').toString('base64') };
  if (relayState) fields.RelayState = relayState;
  return { post: { url: provider.sls_url, fields } };
}
