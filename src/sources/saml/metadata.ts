/**
 * The service provider's metadata (authentik's MetadataProcessor for the source): its entity ID, the signing and
 * encryption certificates, the NameID formats and the ACS (HTTP-POST), and the SLO location when the IdP has one.
 */
import { BINDING_POST, BINDING_REDIRECT, NAME_ID } from '../../saml/constants.js';
import { escapeXml, NS } from '../../saml/xml.js';

const certificateBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

const keyDescriptor = (use: 'signing' | 'encryption', pem: string) =>
  `<md:KeyDescriptor use="${use}"><ds:KeyInfo xmlns:ds="${NS.ds}"><ds:X509Data><ds:X509Certificate>` +
  `${certificateBody(pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`;

export function spMetadata(opts: {
  entityId: string;
  acsUrl: string;
  sloUrl?: string;
  signingCertificatePem?: string;
  encryptionCertificatePem?: string;
  signRequests: boolean;
}): string {
  const formats = [NAME_ID.email, NAME_ID.persistent, NAME_ID.x509, NAME_ID.windows, NAME_ID.transient];
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<md:EntityDescriptor xmlns:md="${NS.md}" entityID="${escapeXml(opts.entityId)}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="${opts.signRequests}" WantAssertionsSigned="true" ` +
    `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    (opts.signingCertificatePem ? keyDescriptor('signing', opts.signingCertificatePem) : '') +
    (opts.encryptionCertificatePem ? keyDescriptor('encryption', opts.encryptionCertificatePem) : '') +
    (opts.sloUrl ? `<md:SingleLogoutService Binding="${BINDING_REDIRECT}" Location="${escapeXml(opts.sloUrl)}"/>` : '') +
    formats.map((f) => `<md:NameIDFormat>${f}</md:NameIDFormat>`).join('') +
    `<md:AssertionConsumerService Binding="${BINDING_POST}" Location="${escapeXml(opts.acsUrl)}" index="0" isDefault="true"/>` +
    '</md:SPSSODescriptor></md:EntityDescriptor>'
  );
}
