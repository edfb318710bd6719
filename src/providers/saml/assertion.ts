import { encrypt } from 'xml-encryption';
import { NAME_ID, randomId, samlTime, STATUS_SUCCESS } from '../../saml/constants.js';
import { signEnveloped } from '../../saml/signature.js';
import { escapeXml, NS } from '../../saml/xml.js';
import { parseDuration } from '../../rest/duration.js';
import { SamlError } from '../../saml/xml.js';
import type { AuthnRequest } from './authn-request.js';
import type { SamlAttribute } from './attributes.js';
import type { SamlProvider } from './config.js';

export const CLASS_REF = {
  unspecified: 'urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified',
  password: 'urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport',
  mfa: 'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract',
  oneFactor: 'urn:oasis:names:tc:SAML:2.0:ac:classes:MobileOneFactorContract',
} as const;

/** the authentication context of the user's last login (authentik's default when no mapping decides it) */
export function classRefOfLogin(context: { auth_method?: string; auth_method_args?: Record<string, unknown> | null } | undefined): string {
  if (!context) return CLASS_REF.unspecified;
  const method = context.auth_method ?? '';
  const args = context.auth_method_args ?? {};
  let ref: string = CLASS_REF.unspecified;
  if (method === 'password') ref = CLASS_REF.password;
  if ('mfa_devices' in args) ref = CLASS_REF.mfa;
  if (method === 'auth_mfa' || method === 'auth_webauthn_pwl') ref = CLASS_REF.oneFactor;
  return ref;
}

export interface NameIdInput {
  format: string;
  /** the user's `uid` (persistent, and the fallback of the others) */
  uid: string;
  email: string;
  attributes: Record<string, unknown>;
  sessionKey: string;
  /** the provider's NameID mapping's value, when it has one and it gave one */
  mapped?: string;
}

/** the NameID's text for the format the request asked for (authentik's get_name_id) */
export function nameIdText(i: NameIdInput): string {
  if (i.mapped !== undefined) return i.mapped;
  const attr = (k: string) => (typeof i.attributes[k] === 'string' ? (i.attributes[k] as string) : i.uid);
  switch (i.format) {
    case NAME_ID.email:
      return i.email;
    case NAME_ID.persistent:
    case NAME_ID.unspecified:
      return i.uid;
    case NAME_ID.x509:
      // (set by the LDAP source)
      return attr('distinguishedName');
    case NAME_ID.windows:
      return attr('upn');
    case NAME_ID.transient:
      // the session's key (a hash of its cookie's token: sessions/session-hash.ts), which changes every session
      return i.sessionKey;
    default:
      throw new SamlError(`Assertion contains NameID with unsupported format ${i.format}.`);
  }
}

export interface AssertionInput {
  provider: SamlProvider;
  request: AuthnRequest;
  issuer: string;
  nameId: string;
  classRef: string;
  attributes: SamlAttribute[];
  /** when the person authenticated */
  authnInstant: Date;
  /** the session index the service provider keeps (for logout) */
  sessionIndex: string;
  now?: Date;
}

const offset = (now: Date, duration: string) => new Date(now.getTime() + (parseDuration(duration) ?? 0));

/** the Assertion's XML alone, unsigned (the Response's, and a WS-Federation token's) */
export function assertionXml(i: AssertionInput): { xml: string; assertionId: string; issueInstant: string } {
  const p = i.provider;
  const now = i.now ?? new Date();
  const issueInstant = samlTime(now);
  const notBefore = samlTime(offset(now, p.assertion_valid_not_before));
  const notOnOrAfter = samlTime(offset(now, p.assertion_valid_not_on_or_after));
  const sessionNotOnOrAfter = samlTime(offset(now, p.session_valid_not_on_or_after));
  const assertionId = randomId();
  const inResponseTo = i.request.id ? ` InResponseTo="${escapeXml(i.request.id)}"` : '';
  const issuer = `<saml:Issuer>${escapeXml(i.issuer)}</saml:Issuer>`;
  const attributes = i.attributes.length
    ? `<saml:AttributeStatement>${i.attributes
        .map(
          (a) =>
            `<saml:Attribute${a.FriendlyName ? ` FriendlyName="${escapeXml(a.FriendlyName)}"` : ''} Name="${escapeXml(a.Name)}">` +
            a.values.map((v) => `<saml:AttributeValue>${escapeXml(v)}</saml:AttributeValue>`).join('') +
            '</saml:Attribute>',
        )
        .join('')}</saml:AttributeStatement>`
    : '';
  const assertion =
    `<saml:Assertion xmlns:saml="${NS.saml}" Version="2.0" ID="${assertionId}" IssueInstant="${issueInstant}">` +
    issuer +
    `<saml:Subject><saml:NameID Format="${escapeXml(i.request.name_id_policy)}">${escapeXml(i.nameId)}</saml:NameID>` +
    '<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">' +
    `<saml:SubjectConfirmationData${inResponseTo} NotOnOrAfter="${notOnOrAfter}" Recipient="${escapeXml(p.acs_url)}"/>` +
    '</saml:SubjectConfirmation></saml:Subject>' +
    `<saml:Conditions NotBefore="${notBefore}" NotOnOrAfter="${notOnOrAfter}">` +
    (p.audience !== ''
      ? `<saml:AudienceRestriction><saml:Audience>${escapeXml(p.audience)}</saml:Audience></saml:AudienceRestriction>`
      : '') +
    '</saml:Conditions>' +
    `<saml:AuthnStatement AuthnInstant="${samlTime(i.authnInstant)}" SessionIndex="${escapeXml(i.sessionIndex)}" SessionNotOnOrAfter="${sessionNotOnOrAfter}">` +
    `<saml:AuthnContext><saml:AuthnContextClassRef>${escapeXml(i.classRef)}</saml:AuthnContextClassRef></saml:AuthnContext>` +
    '</saml:AuthnStatement>' +
    attributes +
    '</saml:Assertion>';
  return { xml: assertion, assertionId, issueInstant };
}

/** the Response's XML, unsigned; `assertionId` for the signature's reference */
export function responseXml(i: AssertionInput): { xml: string; assertionId: string } {
  const p = i.provider;
  const { xml: assertion, assertionId, issueInstant } = assertionXml(i);
  const inResponseTo = i.request.id ? ` InResponseTo="${escapeXml(i.request.id)}"` : '';
  const issuer = `<saml:Issuer>${escapeXml(i.issuer)}</saml:Issuer>`;
  const xml =
    `<samlp:Response xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" Version="2.0" ID="${randomId()}" ` +
    `IssueInstant="${issueInstant}" Destination="${escapeXml(p.acs_url)}"${inResponseTo}>` +
    issuer +
    `<samlp:Status><samlp:StatusCode Value="${STATUS_SUCCESS}"/></samlp:Status>` +
    assertion +
    '</samlp:Response>';
  return { xml, assertionId };
}

export interface KeyPems {
  certificatePem: string;
  privateKeyPem: string;
}

const ASSERTION = `/*/*[local-name(.)='Assertion' and namespace-uri(.)='${NS.saml}']`;

export function encryptAssertion(assertion: string, certificatePem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    encrypt(
      assertion,
      {
        rsa_pub: certificatePem,
        pem: certificatePem,
        encryptionAlgorithm: 'http://www.w3.org/2009/xmlenc11#aes256-gcm',
        keyEncryptionAlgorithm: 'http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p',
        warnInsecureAlgorithm: false,
      },
      (err, out) => (err || typeof out !== 'string' ? reject(new SamlError('Failed to encrypt the assertion.')) : resolve(out)),
    );
  });
}

/** the Response signed and encrypted as the provider says (authentik's build_response) */
export async function buildResponse(i: AssertionInput, keys: { signing?: KeyPems; encryption?: KeyPems }): Promise<string> {
  const p = i.provider;
  let { xml } = responseXml(i);
  const algorithms = { signature: p.signature_algorithm, digest: p.digest_algorithm };
  if (keys.signing && p.sign_assertion) xml = signEnveloped(xml, keys.signing, algorithms, ASSERTION);
  if (keys.encryption) {
    const start = xml.indexOf('<saml:Assertion ');
    const end = xml.indexOf('</saml:Assertion>') + '</saml:Assertion>'.length;
    const encrypted = await encryptAssertion(xml.slice(start, end), keys.encryption.certificatePem);
    xml = `${xml.slice(0, start)}<saml:EncryptedAssertion>${encrypted}</saml:EncryptedAssertion>${xml.slice(end)}`;
  }
  if (keys.signing && p.sign_response) xml = signEnveloped(xml, keys.signing, algorithms);
  return xml;
}
