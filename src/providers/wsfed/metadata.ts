/**
 * A WS-Federation provider's metadata (authentik's MetadataProcessor for it): an EntityDescriptor whose entity ID is
 * the provider's issuer, with a RoleDescriptor of type `fed:SecurityTokenServiceType` carrying the signing
 * certificate and the STS and passive-requestor endpoints (`/application/wsfed/`), signed as the SAML provider's
 * metadata is when the provider has a signing key pair. (authentik also lists its SAML endpoints there; Keystage's
 * WS-Federation providers have none.)
 */
import { signEnveloped } from '../../saml/signature.js';
import { escapeXml, NS } from '../../saml/xml.js';

const NS_FED = 'http://docs.oasis-open.org/wsfed/federation/200706';
const NS_XSI = 'http://www.w3.org/2001/XMLSchema-instance';
const NS_WSA = 'http://www.w3.org/2005/08/addressing';

const certificateBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export function wsfedMetadata(opts: {
  id: string;
  entityId: string;
  endpoint: string;
  signingCertificatePem?: string;
  signing?: { privateKeyPem: string; certificatePem: string };
  algorithms: { signature: string; digest: string };
}): string {
  const endpoint = (name: string) =>
    `<fed:${name}><wsa:EndpointReference><wsa:Address>${escapeXml(opts.endpoint)}</wsa:Address></wsa:EndpointReference></fed:${name}>`;
  const xml =
    `<md:EntityDescriptor xmlns:md="${NS.md}" xmlns:ds="${NS.ds}" xmlns:fed="${NS_FED}" xmlns:xsi="${NS_XSI}" xmlns:wsa="${NS_WSA}" ` +
    `ID="${opts.id}" entityID="${escapeXml(opts.entityId)}">` +
    `<md:RoleDescriptor xsi:type="fed:SecurityTokenServiceType" protocolSupportEnumeration="${NS_FED}">` +
    (opts.signingCertificatePem
      ? `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(opts.signingCertificatePem)}` +
        '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
      : '') +
    endpoint('SecurityTokenServiceEndpoint') +
    endpoint('PassiveRequestorEndpoint') +
    '</md:RoleDescriptor></md:EntityDescriptor>';
  return `<?xml version="1.0" encoding="UTF-8"?>\n${opts.signing ? signEnveloped(xml, opts.signing, opts.algorithms, '/*', true) : xml}`;
}
