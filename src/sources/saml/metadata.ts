/**
 * The service provider's metadata (authentik's MetadataProcessor for the source): its entity ID, the signing and
 * encryption certificates, the one NameID format the source asks for (`name_id_policy`, so an IdP importing the
 * metadata sends the identifier the source's connections are keyed by) and the ACS (HTTP-POST), and the SLO location
 * when the IdP has one. Whether requests are signed and assertions must be is said as the source is set up.
 */
import { BINDING_POST, BINDING_REDIRECT } from '../../saml/constants.js';
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
  /** the source's `name_id_policy`: the one NameID format asked for (authentik's get_name_id_format) */
  nameIdFormat: string;
  /** whether the source checks the assertion's signature (a verification certificate and `signed_assertion`) */
  wantAssertionsSigned: boolean;
}): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<md:EntityDescriptor xmlns:md="${NS.md}" entityID="${escapeXml(opts.entityId)}">` +
    `<md:SPSSODescriptor AuthnRequestsSigned="${opts.signRequests}" WantAssertionsSigned="${opts.wantAssertionsSigned}" ` +
    `protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">` +
    (opts.signingCertificatePem ? keyDescriptor('signing', opts.signingCertificatePem) : '') +
    (opts.encryptionCertificatePem ? keyDescriptor('encryption', opts.encryptionCertificatePem) : '') +
    (opts.sloUrl ? `<md:SingleLogoutService Binding="${BINDING_REDIRECT}" Location="${escapeXml(opts.sloUrl)}"/>` : '') +
    `<md:NameIDFormat>${escapeXml(opts.nameIdFormat)}</md:NameIDFormat>` +
    `<md:AssertionConsumerService Binding="${BINDING_POST}" Location="${escapeXml(opts.acsUrl)}" index="0" isDefault="true"/>` +
    '</md:SPSSODescriptor></md:EntityDescriptor>'
  );
}
