/**
 * A service provider's metadata as `import_metadata` reads it (authentik's ServiceProviderMetadataParser): the entity
 * ID, the ACS (the HTTP-POST binding only, as authentik), the SLS (POST preferred, else redirect), the preferred NameID
 * format, whether it signs its requests and wants signed assertions, and its signing and encryption certificates. A
 * signed document's signature must hold with its own signing certificate (trust on first use, as authentik's).
 */
import { X509Certificate } from 'node:crypto';
import { BINDING_POST, BINDING_REDIRECT, NAME_ID } from '../../saml/constants.js';
import { verifiedElement } from '../../saml/signature.js';
import { attr, childrenOf, NS, parseXml, SamlError } from '../../saml/xml.js';

export interface SpMetadata {
  entity_id: string;
  acs_url: string;
  sls_url: string | null;
  sls_binding: 'post' | 'redirect' | null;
  name_id_policy: string;
  authn_requests_signed: boolean;
  want_assertions_signed: boolean;
  signing_certificate: string | null;
  encryption_certificate: string | null;
}

/** an invalid document (authentik: "Invalid XML Syntax") */
export class InvalidXml extends Error {}

const PREFERRED_NAME_IDS = [NAME_ID.persistent, NAME_ID.transient, NAME_ID.email, NAME_ID.unspecified] as string[];

const pem = (b64: string) =>
  `-----BEGIN CERTIFICATE-----\n${b64
    .replace(/\s+/g, '')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

function certificateOf(sp: Element, use: 'signing' | 'encryption'): string | null {
  for (const kd of childrenOf(sp, NS.md, 'KeyDescriptor')) {
    if (attr(kd, 'use') !== use) continue;
    const x = kd.getElementsByTagNameNS(NS.ds, 'X509Certificate')[0];
    if (!x?.textContent) continue;
    const cert = pem(x.textContent);
    try {
      new X509Certificate(cert);
    } catch {
      throw new SamlError(`The ${use} certificate cannot be read.`);
    }
    return cert;
  }
  return null;
}

export function parseSpMetadata(text: string): SpMetadata {
  let root: Element;
  try {
    root = parseXml(text);
  } catch {
    throw new InvalidXml('Invalid XML Syntax');
  }
  if (root.namespaceURI !== NS.md || root.localName !== 'EntityDescriptor') throw new SamlError('The document is not an EntityDescriptor.');
  const entityId = attr(root, 'entityID');
  if (!entityId) throw new SamlError('The EntityDescriptor has no entityID.');
  const sp = childrenOf(root, NS.md, 'SPSSODescriptor')[0];
  if (!sp) throw new SamlError('The document has no SPSSODescriptor.');
  const signing = certificateOf(sp, 'signing');
  if (signing && childrenOf(root, NS.ds, 'Signature').length === 1) {
    try {
      verifiedElement(text, root, signing, 'EntityDescriptor');
    } catch {
      throw new SamlError('Failed to verify Metadata signature');
    }
  }
  const services = (name: string) =>
    childrenOf(sp, NS.md, name)
      .map((e) => ({ binding: attr(e, 'Binding') ?? '', url: (attr(e, 'Location') ?? '').trim() }))
      .filter((e) => e.url);
  const acs = services('AssertionConsumerService').find((s) => s.binding === BINDING_POST);
  if (!acs) throw new SamlError('The service provider has no AssertionConsumerService with the HTTP-POST binding.');
  const sls = services('SingleLogoutService');
  const slo = sls.find((s) => s.binding === BINDING_POST) ?? sls.find((s) => s.binding === BINDING_REDIRECT);
  const formats = childrenOf(sp, NS.md, 'NameIDFormat')
    .map((e) => (e.textContent ?? '').trim())
    .filter(Boolean);
  return {
    entity_id: entityId,
    acs_url: acs.url,
    sls_url: slo?.url ?? null,
    sls_binding: slo ? (slo.binding === BINDING_POST ? 'post' : 'redirect') : null,
    name_id_policy: PREFERRED_NAME_IDS.find((f) => formats.includes(f)) ?? formats[0] ?? NAME_ID.unspecified,
    authn_requests_signed: (attr(sp, 'AuthnRequestsSigned') ?? '').toLowerCase() === 'true',
    want_assertions_signed: (attr(sp, 'WantAssertionsSigned') ?? '').toLowerCase() === 'true',
    signing_certificate: signing,
    encryption_certificate: certificateOf(sp, 'encryption'),
  };
}
