/**
 * A SAMLResponse read as authentik's ResponseProcessor reads it, with the checks a careful service provider adds:
 * the response signature (`signed_response`) on the document as received, then the assertion — decrypted with the
 * encryption key pair when one is set (an unencrypted one is then refused) — and its signature (`signed_assertion`);
 * what is read afterwards is only what a signature covered (signature.ts). The status, the validity window
 * (`NotBefore`/`NotOnOrAfter`, three minutes' skew), the audience and the binding to this service provider (the
 * Response's Destination and a bearer subject confirmation's Recipient name its ACS URL) are checked; the request ID
 * (the Response's and a confirmation's InResponseTo) and replays are the caller's (routes.ts), with what this returns.
 */
import { decryptAssertion } from './decrypt.js';
import { verifiedElement } from '../../saml/signature.js';
import { attr, childOf, childrenOf, NS, onlyChild, parseXml, SamlError, serialize, textOf } from '../../saml/xml.js';
import type { SamlSourcesTable } from './table.js';

const SKEW_MS = 3 * 60_000;
const STATUS_SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';
const BEARER = 'urn:oasis:names:tc:SAML:2.0:cm:bearer';
export const SAML_ATTRIBUTES_GROUP = 'http://schemas.xmlsoap.org/claims/Group';

export interface ReadResponse {
  /** the Response's and the Assertion's IDs: each is accepted once */
  ids: string[];
  inResponseTo: string | null;
  nameId: { text: string; format: string | null };
  /** authentik's get_base_user_properties: each attribute's first value, `groups` all of them, `username` the NameID */
  properties: Record<string, unknown>;
  /** how long the IDs must be remembered: the assertion's end of validity, at most a day */
  expires: Date;
  /** the response as read (decrypted), for the mappings' `root` */
  xml: string;
  /**
   * the InResponseTo of each subject confirmation that names this service provider (null: it names no request); the
   * caller checks that one of them answers its request
   */
  confirmations: (string | null)[];
}

export interface ResponseKeys {
  /** the verification certificate (PEM); without it nothing is checked, as authentik */
  certificatePem?: string;
  /** the encryption key pair's private key (PEM) */
  decryptionKeyPem?: string;
}

function decodeBase64(raw: string): string {
  const compact = raw.replace(/\s+/g, '');
  if (!compact || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) throw new SamlError('Invalid SAMLResponse encoding.');
  return Buffer.from(compact, 'base64').toString('utf8');
}

function checkStatus(response: Element) {
  const status = childOf(response, NS.samlp, 'Status');
  if (!status) return;
  const code = childOf(status, NS.samlp, 'StatusCode');
  const message = textOf(childOf(status, NS.samlp, 'StatusMessage'));
  // authentik: a StatusMessage is the refusal's text
  if (message !== null && message.trim() !== '') throw new SamlError(message.trim());
  const value = code ? attr(code, 'Value') : null;
  if (value && value !== STATUS_SUCCESS) throw new SamlError(`The identity provider answered ${value}.`);
}

function checkWindow(el: Element | undefined, now: number, what: string) {
  if (!el) return;
  const before = attr(el, 'NotBefore');
  const after = attr(el, 'NotOnOrAfter');
  if (before && Date.parse(before) - SKEW_MS > now) throw new SamlError(`The ${what} is not valid yet.`);
  if (after && Date.parse(after) + SKEW_MS <= now) throw new SamlError(`The ${what} has expired.`);
}

/** a Destination or Recipient naming this ACS URL (only the case may differ; scheme, host, port and path may not) */
const namesAcs = (url: string, acsUrl: string) => url.trim().toLowerCase() === acsUrl.toLowerCase();

/**
 * the subject confirmations that bind the assertion to this service provider (authentik's response binding): bearer
 * ones (or naming no method) with SubjectConfirmationData whose Recipient, when named, is this ACS URL. Another
 * method's confirmation confirms nothing here, even when it constrains nothing; none that names this source refuses
 * the assertion.
 */
function confirmationsFor(subject: Element, acsUrl: string): Element[] {
  const found: Element[] = [];
  for (const confirmation of childrenOf(subject, NS.saml, 'SubjectConfirmation')) {
    const method = attr(confirmation, 'Method');
    if (method !== null && method !== BEARER) continue;
    const data = childOf(confirmation, NS.saml, 'SubjectConfirmationData');
    if (!data) continue;
    const recipient = attr(data, 'Recipient');
    if (recipient === null || namesAcs(recipient, acsUrl)) found.push(data);
  }
  if (!found.length) throw new SamlError('The assertion is not addressed to this service provider.');
  return found;
}

export async function readResponse(
  raw: string,
  source: Pick<SamlSourcesTable, 'signed_assertion' | 'signed_response'>,
  keys: ResponseKeys,
  audiences: readonly string[],
  /** this source's ACS URL: a Destination or Recipient names it, or another service provider */
  acsUrl: string,
  now = Date.now(),
): Promise<ReadResponse> {
  const text = decodeBase64(raw);
  const root = parseXml(text);
  if (root.namespaceURI !== NS.samlp || root.localName !== 'Response') throw new SamlError('The message is no SAML Response.');
  const cert = keys.certificatePem;
  const response = cert && source.signed_response ? verifiedElement(text, root, cert, 'Response') : root;
  checkStatus(response);
  const destination = attr(response, 'Destination');
  if (destination !== null && !namesAcs(destination, acsUrl)) throw new SamlError('The response is meant for another service provider.');
  let assertion: Element | undefined;
  let assertionText = text;
  if (keys.decryptionKeyPem) {
    const encrypted = onlyChild(response, NS.saml, 'EncryptedAssertion', 'EncryptedAssertion');
    if (!encrypted) throw new SamlError('The assertion is not encrypted.');
    assertionText = await decryptAssertion(encrypted, keys.decryptionKeyPem);
    assertion = parseXml(assertionText);
    if (assertion.namespaceURI !== NS.saml || assertion.localName !== 'Assertion') throw new SamlError('Assertion element not found');
  } else {
    assertion = onlyChild(response, NS.saml, 'Assertion', 'Assertion');
    if (childrenOf(response, NS.saml, 'EncryptedAssertion').length)
      throw new SamlError('The assertion is encrypted, and the source has no encryption key pair.');
  }
  if (!assertion) throw new SamlError('Assertion element not found');
  if (cert && source.signed_assertion) assertion = verifiedElement(assertionText, assertion, cert, 'Assertion');

  const conditions = childOf(assertion, NS.saml, 'Conditions');
  checkWindow(conditions, now, 'assertion');
  if (conditions) {
    for (const restriction of childrenOf(conditions, NS.saml, 'AudienceRestriction')) {
      const named = childrenOf(restriction, NS.saml, 'Audience').map((a) => (a.textContent ?? '').trim());
      if (!named.some((a) => audiences.includes(a))) throw new SamlError('The assertion is meant for another service provider.');
    }
  }
  const subject = childOf(assertion, NS.saml, 'Subject');
  if (!subject) throw new SamlError('Subject element not found');
  const confirmations = confirmationsFor(subject, acsUrl);
  for (const data of confirmations) checkWindow(data, now, 'subject confirmation');
  const nameIdEl = childOf(subject, NS.saml, 'NameID');
  if (!nameIdEl) throw new SamlError('NameID element not found');
  const nameId = (nameIdEl.textContent ?? '').trim();
  if (!nameId) throw new SamlError('NameID is empty');

  const properties: Record<string, unknown> = {};
  const statement = childOf(assertion, NS.saml, 'AttributeStatement');
  const values: Record<string, string[]> = {};
  if (statement)
    for (const a of childrenOf(statement, NS.saml, 'Attribute')) {
      const name = attr(a, 'Name');
      if (!name) continue;
      const list = (values[name] ??= []);
      for (const v of childrenOf(a, NS.saml, 'AttributeValue')) if (v.textContent) list.push(v.textContent);
    }
  for (const [name, list] of Object.entries(values)) {
    if (name === SAML_ATTRIBUTES_GROUP) properties.groups = list;
    // BaseEvaluator.expr_flatten: the first value, None (dropped) for none
    else if (list.length) properties[name] = list[0];
  }
  properties.username = nameId;

  const ends = [conditions ? attr(conditions, 'NotOnOrAfter') : null].map((s) => (s ? Date.parse(s) : Number.NaN)).filter(Number.isFinite);
  const day = now + 86_400_000;
  const expires = new Date(Math.min(day, Math.max(now + SKEW_MS, ...ends.map((t) => t + SKEW_MS))));
  const ids = [attr(response, 'ID'), attr(assertion, 'ID')].filter((x): x is string => !!x);
  if (!ids.length) throw new SamlError('The response has no ID.');
  // the response as read, with the (decrypted, checked) assertion in it, for the mappings
  const forMappings = parseXml(serialize(response));
  const old = childOf(forMappings, NS.saml, 'Assertion') ?? childOf(forMappings, NS.saml, 'EncryptedAssertion');
  const adopted = forMappings.ownerDocument.importNode(assertion, true);
  if (old) forMappings.replaceChild(adopted, old);
  else forMappings.appendChild(adopted);
  return {
    ids,
    inResponseTo: attr(response, 'InResponseTo'),
    nameId: { text: nameId, format: attr(nameIdEl, 'Format') },
    properties,
    expires,
    xml: serialize(forMappings),
    confirmations: confirmations.map((data) => attr(data, 'InResponseTo')),
  };
}
