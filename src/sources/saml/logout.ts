/**
 * Single logout with the identity provider (authentik's SLOView and its logout processors), by the redirect
 * binding: Keystage's LogoutRequest when a person logs out here (the NameID the source knows them by), the
 * IdP's LogoutRequest read (its ID, for the answer) and Keystage's LogoutResponse to it. Signed with the source's
 * signing key pair when it has one, as the AuthnRequest.
 */
import { inflateRawSync } from 'node:zlib';
import { escapeXml, NS, attr, childOf, parseXml, SamlError } from '../../saml/xml.js';

const instant = (d = new Date()) => d.toISOString().replace(/\.\d+Z$/, 'Z');

export function logoutRequestXml(o: { id: string; issuer: string; destination: string; nameId: string; format?: string | null }): string {
  return (
    `<samlp:LogoutRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${o.id}" Version="2.0" ` +
    `IssueInstant="${instant()}" Destination="${escapeXml(o.destination)}">` +
    `<saml:Issuer>${escapeXml(o.issuer)}</saml:Issuer>` +
    `<saml:NameID${o.format ? ` Format="${escapeXml(o.format)}"` : ''}>${escapeXml(o.nameId)}</saml:NameID>` +
    '</samlp:LogoutRequest>'
  );
}

export function logoutResponseXml(o: { id: string; issuer: string; destination: string; inResponseTo: string }): string {
  return (
    `<samlp:LogoutResponse xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${o.id}" Version="2.0" ` +
    `IssueInstant="${instant()}" Destination="${escapeXml(o.destination)}" InResponseTo="${escapeXml(o.inResponseTo)}">` +
    `<saml:Issuer>${escapeXml(o.issuer)}</saml:Issuer>` +
    '<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>' +
    '</samlp:LogoutResponse>'
  );
}

/** a LogoutRequest as the redirect binding (deflated) or the POST binding (plain) carries it: its ID and NameID */
export function readLogoutRequest(raw: string, deflated: boolean): { id: string; nameId: string | null } {
  let text: string;
  try {
    const bytes = Buffer.from(raw.replace(/\s+/g, ''), 'base64');
    text = (deflated ? inflateRawSync(bytes, { maxOutputLength: 1024 * 1024 }) : bytes).toString('utf8');
  } catch {
    throw new SamlError('Invalid SAMLRequest encoding.');
  }
  const root = parseXml(text);
  if (root.namespaceURI !== NS.samlp || root.localName !== 'LogoutRequest') throw new SamlError('The message is no LogoutRequest.');
  const id = attr(root, 'ID');
  if (!id) throw new SamlError('The LogoutRequest has no ID.');
  return { id, nameId: childOf(root, NS.saml, 'NameID')?.textContent?.trim() || null };
}
