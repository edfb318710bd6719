/**
 * XML as the SAML source reads it: parsed by xmldom with any document type declaration refused (no entities, so no
 * entity expansion or external entities; defusedxml's rule in authentik), and walked by namespace and local name.
 */
import { DOMParser, XMLSerializer } from '@xmldom/xmldom';

export const NS = {
  samlp: 'urn:oasis:names:tc:SAML:2.0:protocol',
  saml: 'urn:oasis:names:tc:SAML:2.0:assertion',
  ds: 'http://www.w3.org/2000/09/xmldsig#',
  xenc: 'http://www.w3.org/2001/04/xmlenc#',
  md: 'urn:oasis:names:tc:SAML:2.0:metadata',
} as const;

/** a message the source refuses, with the reason shown to the person (authentik's bad_request_message) */
export class SamlError extends Error {}

export function parseXml(text: string): Element {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new SamlError('XML with a document type declaration is not accepted.');
  const fail = (msg: string) => {
    throw new SamlError(`Invalid XML: ${String(msg).split('\n')[0]}`);
  };
  const doc = new DOMParser({ errorHandler: { warning: () => undefined, error: fail, fatalError: fail } }).parseFromString(
    text,
    'text/xml',
  );
  const root = doc?.documentElement;
  if (!root) throw new SamlError('Invalid XML: no document element.');
  return root as unknown as Element;
}

export const serialize = (node: Node) => new XMLSerializer().serializeToString(node as never);

/** the element children of `el` with this namespace and local name */
export function childrenOf(el: Element, ns: string, local: string): Element[] {
  const out: Element[] = [];
  for (let n = el.firstChild; n; n = n.nextSibling)
    if (n.nodeType === 1 && (n as Element).namespaceURI === ns && (n as Element).localName === local) out.push(n as Element);
  return out;
}

export const childOf = (el: Element, ns: string, local: string): Element | undefined => childrenOf(el, ns, local)[0];

/** the one child of that name; refused when there are several (a wrapped second copy is never chosen silently) */
export function onlyChild(el: Element, ns: string, local: string, what: string): Element | undefined {
  const found = childrenOf(el, ns, local);
  if (found.length > 1) throw new SamlError(`More than one ${what} element.`);
  return found[0];
}

export const textOf = (el: Element | undefined): string | null => (el ? (el.textContent ?? '') : null);

export const attr = (el: Element, name: string): string | null => (el.hasAttribute(name) ? el.getAttribute(name) : null);

/**
 * text for an XML document: markup characters as entities, and a carriage return as `&#13;` (a parser turns a raw
 * one into a line feed: a value "a\rb" would arrive as "a\nb")
 */
const escapeXml = (s: string) =>
  s.replace(/[&<>"\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\r': '&#13;' })[c]!);
export { escapeXml };
