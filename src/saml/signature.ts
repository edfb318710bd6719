/**
 * Enveloped XML signatures with xml-crypto: checking the other side's on a message (the IdP's Response or Assertion
 * for the SAML source, the SP's AuthnRequest or LogoutRequest for the SAML provider) against the configured
 * verification certificate (never a key the message carries), and signing Keystage's own messages.
 *
 * What is read after a check is the signed content itself — the canonical XML the signature's one reference covered,
 * parsed again — never the element found in the received document, so a wrapped copy (XML signature wrapping) is
 * never what the login reads.
 */
import { SignedXml } from 'xml-crypto';
import { withAlgorithms } from './algorithms.js';
import { attr, childrenOf, NS, parseXml, SamlError } from './xml.js';

/**
 * Checks the signature that is a direct child of `element` (in `documentText`, the text `element` was parsed from)
 * and returns the signed element. `what` names the element in the refusal.
 */
export function verifiedElement(
  documentText: string,
  element: Element,
  certificatePem: string,
  what: 'Response' | 'Assertion' | 'AuthnRequest' | 'LogoutRequest' | 'LogoutResponse' | 'EntityDescriptor',
): Element {
  const signatures = childrenOf(element, NS.ds, 'Signature');
  if (signatures.length !== 1) throw new SamlError(`No Signature exists in the ${what} element.`);
  const id = attr(element, 'ID');
  if (!id) throw new SamlError(`The signed ${what} has no ID.`);
  const sx = withAlgorithms(new SignedXml({ publicCert: certificatePem, getCertFromKeyInfo: () => null }));
  let valid = false;
  try {
    sx.loadSignature(signatures[0]!);
    const refs = sx.getReferences();
    // one reference, to this element (an empty URI — the whole document — only where the element is the document)
    const uri = refs[0]?.uri ?? '';
    const whole = uri === '' && element.parentNode === element.ownerDocument;
    if (refs.length !== 1 || (uri !== `#${id}` && !whole)) throw new SamlError(`The ${what}'s signature does not cover the ${what}.`);
    valid = sx.checkSignature(documentText);
  } catch (e) {
    if (e instanceof SamlError) throw e;
    valid = false;
  }
  const signed = valid ? sx.getSignedReferences() : [];
  if (!valid || signed.length !== 1) throw new SamlError('Invalid signature');
  const out = parseXml(signed[0]!);
  if (
    out.namespaceURI !== (what === 'Assertion' ? NS.saml : what === 'EntityDescriptor' ? NS.md : NS.samlp) ||
    out.localName !== what ||
    attr(out, 'ID') !== id
  )
    throw new SamlError('Invalid signature');
  return out;
}

/**
 * signs an element — the document's root (an AuthnRequest, a Response), or the one `element` names by its XPath (the
 * Response's Assertion) — with an enveloped signature placed after its Issuer (`first`: as its first child, where
 * it has no Issuer: metadata), with the certificate in its KeyInfo
 */
export function signEnveloped(
  xml: string,
  key: { privateKeyPem: string; certificatePem: string },
  algorithms: { signature: string; digest: string },
  element = '/*',
  /** where the signature goes: after the Issuer (SAML 2.0), first (metadata), or last (SAML 1.1, whose ID is `AssertionID`) */
  first: boolean | 'last' = false,
): string {
  const sx = withAlgorithms(
    new SignedXml({
      privateKey: key.privateKeyPem,
      publicCert: key.certificatePem,
      signatureAlgorithm: algorithms.signature as never,
      canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
      ...(first === 'last' ? { idAttribute: 'AssertionID' } : {}),
    }),
  );
  sx.addReference({
    xpath: element,
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: algorithms.digest as never,
  });
  sx.computeSignature(xml, {
    prefix: 'ds',
    location:
      first === 'last'
        ? { reference: element, action: 'append' }
        : first
          ? { reference: element, action: 'prepend' }
          : { reference: `${element}/*[local-name(.)='Issuer' and namespace-uri(.)='${NS.saml}']`, action: 'after' },
  });
  return sx.getSignedXml();
}
