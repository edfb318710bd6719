/**
 * The AuthnRequest Keystage sends the identity provider (authentik's RequestProcessor): with the source's issuer,
 * the ACS URL, the NameID policy and `ForceAuthn`; signed with the signing key pair when one is set — enveloped for the
 * POST bindings, as a detached query signature (`SigAlg`, `Signature`) for the redirect binding.
 */
import { BINDING_POST } from '../../saml/constants.js';
import { signEnveloped } from '../../saml/signature.js';
import { escapeXml, NS } from '../../saml/xml.js';
import type { SamlSourcesTable } from './table.js';

export type { SigningPair } from '../../saml/redirect-binding.js';
import type { SigningPair } from '../../saml/redirect-binding.js';

export function authnRequestXml(source: SamlSourcesTable, opts: { id: string; issuer: string; acsUrl: string; now?: Date }): string {
  const instant = (opts.now ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
  return (
    `<samlp:AuthnRequest xmlns:samlp="${NS.samlp}" xmlns:saml="${NS.saml}" ID="${opts.id}" Version="2.0" ` +
    `IssueInstant="${instant}" Destination="${escapeXml(source.sso_url)}" ` +
    `AssertionConsumerServiceURL="${escapeXml(opts.acsUrl)}" ProtocolBinding="${BINDING_POST}"` +
    `${source.force_authn ? ' ForceAuthn="true"' : ''}>` +
    `<saml:Issuer>${escapeXml(opts.issuer)}</saml:Issuer>` +
    (source.name_id_policy ? `<samlp:NameIDPolicy Format="${escapeXml(source.name_id_policy)}"/>` : '') +
    '</samlp:AuthnRequest>'
  );
}

/** the POST bindings' SAMLRequest: the request, signed in place when there is a key pair, in base64 */
export function postBindingRequest(xml: string, source: SamlSourcesTable, pair: SigningPair | undefined): string {
  const signed = pair ? signEnveloped(xml, pair, { signature: source.signature_algorithm, digest: source.digest_algorithm }) : xml;
  return Buffer.from(signed, 'utf8').toString('base64');
}

export { redirectBindingUrl } from '../../saml/redirect-binding.js';
