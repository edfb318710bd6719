/**
 * The security token a WS-Federation sign-in answers with (authentik's SignInProcessor and SAML11AssertionProcessor):
 * a RequestSecurityTokenResponse (WS-Trust 2005/02) naming the realm, carrying the person's SAML assertion — 2.0 (the
 * SAML provider's assertion) or 1.1 (`saml_version`: ADFS-style relying parties) — signed with the provider's key
 * pair when `sign_assertion` (SAML 1.1: the signature the assertion's last child, referencing its `AssertionID`), and
 * encrypted to `encryption_kp` when set (SAML 2.0 only: an EncryptedAssertion; beyond authentik, which leaves the
 * setting unused), with its attached and unattached references and its lifetime (`session_valid_not_on_or_after`).
 */
import { parseDuration } from '../../rest/duration.js';
import { randomId, samlTime } from '../../saml/constants.js';
import { signEnveloped } from '../../saml/signature.js';
import { escapeXml } from '../../saml/xml.js';
import { assertionXml, encryptAssertion, type KeyPems } from '../saml/index.js';
import type { WsfedProvider } from './config.js';

type AssertionInput = Parameters<typeof assertionXml>[0];

export const NS_TRUST = 'http://schemas.xmlsoap.org/ws/2005/02/trust';
const NS_WSU = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd';
const NS_WSP = 'http://schemas.xmlsoap.org/ws/2004/09/policy';
const NS_WSA = 'http://www.w3.org/2005/08/addressing';
const NS_WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd';
const NS_WSSE11 = 'http://docs.oasis-open.org/wss/oasis-wss-wssecurity-secext-1.1.xsd';
export const NS_SAML11 = 'urn:oasis:names:tc:SAML:1.0:assertion';

const TOKEN_TYPE = {
  '2.0': 'http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLV2.0',
  '1.1': 'urn:oasis:names:tc:SAML:1.0:assertion',
};
const KEY_IDENTIFIER = {
  '2.0': 'http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.1#SAMLID',
  '1.1': 'http://docs.oasis-open.org/wss/oasis-wss-saml-token-profile-1.0#SAMLAssertionID',
};
const AM_PASSWORD = 'urn:oasis:names:tc:SAML:1.0:am:password';
const AM_UNSPECIFIED = 'urn:oasis:names:tc:SAML:1.0:am:unspecified';
const ATTRIBUTE_NAMESPACE = 'http://schemas.xmlsoap.org/claims';

const offset = (now: Date, duration: string) => new Date(now.getTime() + (parseDuration(duration) ?? 0));

/** the SAML 1.1 assertion (unsigned): conditions, the authentication statement, the attributes when there are any */
export function saml11AssertionXml(i: AssertionInput, method: string): { xml: string; assertionId: string } {
  const p = i.provider;
  const now = i.now ?? new Date();
  const assertionId = randomId();
  const subject =
    `<saml:Subject><saml:NameIdentifier Format="${escapeXml(i.request.name_id_policy)}">${escapeXml(i.nameId)}</saml:NameIdentifier>` +
    '<saml:SubjectConfirmation><saml:ConfirmationMethod>urn:oasis:names:tc:SAML:1.0:cm:bearer</saml:ConfirmationMethod>' +
    '</saml:SubjectConfirmation></saml:Subject>';
  const attributes = i.attributes.length
    ? `<saml:AttributeStatement>${subject}${i.attributes
        .map(
          (a) =>
            `<saml:Attribute AttributeName="${escapeXml(a.Name)}" AttributeNamespace="${ATTRIBUTE_NAMESPACE}">` +
            a.values.map((v) => `<saml:AttributeValue>${escapeXml(v)}</saml:AttributeValue>`).join('') +
            '</saml:Attribute>',
        )
        .join('')}</saml:AttributeStatement>`
    : '';
  const xml =
    `<saml:Assertion xmlns:saml="${NS_SAML11}" MajorVersion="1" MinorVersion="1" AssertionID="${assertionId}" ` +
    `IssueInstant="${samlTime(now)}" Issuer="${escapeXml(i.issuer)}">` +
    `<saml:Conditions NotBefore="${samlTime(offset(now, p.assertion_valid_not_before))}" NotOnOrAfter="${samlTime(offset(now, p.assertion_valid_not_on_or_after))}">` +
    (p.audience !== ''
      ? `<saml:AudienceRestrictionCondition><saml:Audience>${escapeXml(p.audience)}</saml:Audience></saml:AudienceRestrictionCondition>`
      : '') +
    '</saml:Conditions>' +
    `<saml:AuthenticationStatement AuthenticationInstant="${samlTime(i.authnInstant)}" AuthenticationMethod="${escapeXml(method)}">` +
    subject +
    '</saml:AuthenticationStatement>' +
    attributes +
    '</saml:Assertion>';
  return { xml, assertionId };
}

/** SAML 1.1's AuthenticationMethod: the class reference mapping's value, else password for a password login */
export const saml11Method = (mapped: string | undefined, loginMethod: string | undefined) =>
  mapped ?? (loginMethod === 'password' ? AM_PASSWORD : AM_UNSPECIFIED);

function reference(tag: string, version: '1.1' | '2.0', assertionId: string) {
  return (
    `<t:${tag}><wsse:SecurityTokenReference d3p1:TokenType="${TOKEN_TYPE[version]}">` +
    `<wsse:KeyIdentifier ValueType="${KEY_IDENTIFIER[version]}">${assertionId}</wsse:KeyIdentifier>` +
    `</wsse:SecurityTokenReference></t:${tag}>`
  );
}

/** the `wresult`: the RequestSecurityTokenResponse with the assertion, signed and encrypted as the provider says */
export async function securityTokenResponse(
  provider: WsfedProvider,
  realm: string,
  input: AssertionInput,
  keys: { signing?: KeyPems; encryption?: KeyPems },
  saml11Method: string,
): Promise<string> {
  const version = provider.saml_version;
  const now = input.now ?? new Date();
  const algorithms = { signature: provider.signature_algorithm, digest: provider.digest_algorithm };
  const sign = keys.signing && provider.sign_assertion ? keys.signing : undefined;
  let assertion: string;
  let assertionId: string;
  if (version === '1.1') {
    ({ xml: assertion, assertionId } = saml11AssertionXml(input, saml11Method));
    if (sign) assertion = signEnveloped(assertion, sign, algorithms, '/*', 'last');
  } else {
    ({ xml: assertion, assertionId } = assertionXml(input));
    if (sign) assertion = signEnveloped(assertion, sign, algorithms, '/*');
    if (keys.encryption)
      assertion = `<saml:EncryptedAssertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">${await encryptAssertion(assertion, keys.encryption.certificatePem)}</saml:EncryptedAssertion>`;
  }
  return (
    `<t:RequestSecurityTokenResponse xmlns:t="${NS_TRUST}" xmlns:wsu="${NS_WSU}" xmlns:wsp="${NS_WSP}" xmlns:wsa="${NS_WSA}" ` +
    `xmlns:wsse="${NS_WSSE}" xmlns:d3p1="${NS_WSSE11}">` +
    `<t:Lifetime><wsu:Created>${samlTime(now)}</wsu:Created><wsu:Expires>${samlTime(offset(now, provider.session_valid_not_on_or_after))}</wsu:Expires></t:Lifetime>` +
    `<wsp:AppliesTo><wsa:EndpointReference><wsa:Address>${escapeXml(realm)}</wsa:Address></wsa:EndpointReference></wsp:AppliesTo>` +
    `<t:RequestedSecurityToken>${assertion.replace(/^<\?xml[^>]*\?>\s*/, '')}</t:RequestedSecurityToken>` +
    reference('RequestedAttachedReference', version, assertionId) +
    reference('RequestedUnattachedReference', version, assertionId) +
    `<t:TokenType>${TOKEN_TYPE[version]}</t:TokenType>` +
    '<t:RequestType>http://schemas.xmlsoap.org/ws/2005/02/trust/Issue</t:RequestType>' +
    '<t:KeyType>http://schemas.xmlsoap.org/ws/2005/05/identity/NoProofKey</t:KeyType>' +
    '</t:RequestSecurityTokenResponse>'
  );
}
