/**
 * The identity provider's metadata for one SAML provider (authentik's MetadataProcessor): its entity ID, the signing
 * certificate, the NameID formats, and the SSO and SLO services by binding (`force_binding` keeps one). With a signing
 * key pair the document is signed as authentik signs it: an `ID` of `_` + SHA-256 of "<name>-<pk>", an enveloped
 * signature as the EntityDescriptor's first child (exclusive C14N, the provider's signature and digest algorithms,
 * the certificate in its KeyInfo).
 */
import { createHash } from 'node:crypto';
import { BINDING_POST, BINDING_REDIRECT, NAME_ID } from '../../saml/constants.js';
import { signEnveloped } from '../../saml/signature.js';
import { escapeXml, NS } from '../../saml/xml.js';

/** authentik's metadata ID: stable for a provider, so the signed document changes only with its content */
export const metadataId = (name: string, pk: number) => `_${createHash('sha256').update(`${name}-${pk}`).digest('hex')}`;

const certificateBody = (pem: string) => pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');

export function idpMetadata(opts: {
  /** the document's `ID` (metadataId) */
  id: string;
  entityId: string;
  urls: { url_sso_post: string; url_sso_redirect: string; url_slo_post: string; url_slo_redirect: string };
  /** the signing key pair's certificate, announced */
  signingCertificatePem?: string;
  /** the signing key pair, which signs the document */
  signing?: { privateKeyPem: string; certificatePem: string };
  algorithms: { signature: string; digest: string };
  wantAuthnRequestsSigned: boolean;
  forceBinding?: string;
}): string {
  const bindings = [
    { binding: BINDING_REDIRECT, sso: opts.urls.url_sso_redirect, slo: opts.urls.url_slo_redirect },
    { binding: BINDING_POST, sso: opts.urls.url_sso_post, slo: opts.urls.url_slo_post },
  ].filter((b) => !opts.forceBinding || b.binding === opts.forceBinding);
  const formats = [NAME_ID.email, NAME_ID.persistent, NAME_ID.x509, NAME_ID.windows, NAME_ID.transient];
  const xml =
    `<md:EntityDescriptor xmlns:md="${NS.md}" xmlns:ds="${NS.ds}" ID="${opts.id}" entityID="${escapeXml(opts.entityId)}">` +
    `<md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"` +
    `${opts.wantAuthnRequestsSigned ? ' WantAuthnRequestsSigned="true"' : ''}>` +
    (opts.signingCertificatePem
      ? `<md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certificateBody(opts.signingCertificatePem)}` +
        '</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>'
      : '') +
    bindings.map((b) => `<md:SingleLogoutService Binding="${b.binding}" Location="${escapeXml(b.slo)}"/>`).join('') +
    formats.map((f) => `<md:NameIDFormat>${f}</md:NameIDFormat>`).join('') +
    bindings.map((b) => `<md:SingleSignOnService Binding="${b.binding}" Location="${escapeXml(b.sso)}"/>`).join('') +
    '</md:IDPSSODescriptor></md:EntityDescriptor>';
  return `<?xml version="1.0" encoding="UTF-8"?>\n${opts.signing ? signEnveloped(xml, opts.signing, opts.algorithms, '/*', true) : xml}`;
}
