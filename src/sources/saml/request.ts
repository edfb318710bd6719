/**
 * The AuthnRequest Keystage sends the identity provider (authentik's RequestProcessor): with the source's issuer,
 * the ACS URL, the NameID policy and `ForceAuthn`; signed with the signing key pair when one is set — enveloped for the
 * POST bindings, as a detached query signature (`SigAlg`, `Signature`) for the redirect binding.
 */
import { sign, createPrivateKey } from 'node:crypto';
import { BINDING_POST } from '../../saml/constants.js';
import { deflateRawSync } from 'node:zlib';
import { hashOfSignatureAlgorithm } from '../../saml/algorithms.js';
import { signEnveloped } from '../../saml/signature.js';
import { escapeXml, NS } from '../../saml/xml.js';
import type { SamlSourcesTable } from './table.js';

export interface SigningPair {
  privateKeyPem: string;
  certificatePem: string;
}

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

/** Python's quote_plus, as authentik builds the string it signs (and the query it sends) */
const quotePlus = (s: string) =>
  encodeURIComponent(s)
    .replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
    .replace(/%20/g, '+');

/**
 * the redirect binding's URL: the endpoint's own query (the SSO URL's, else `to`), then the deflated message
 * (`SAMLRequest`, or `SAMLResponse` for a logout response), relay state and detached signature
 */
export function redirectBindingUrl(
  xml: string,
  source: Pick<SamlSourcesTable, 'sso_url' | 'signature_algorithm'>,
  relayState: string,
  pair: SigningPair | undefined,
  opts: { param?: 'SAMLRequest' | 'SAMLResponse'; to?: string } = {},
): string {
  let query = `${opts.param ?? 'SAMLRequest'}=${quotePlus(deflateRawSync(Buffer.from(xml, 'utf8')).toString('base64'))}`;
  if (relayState !== '') query += `&RelayState=${quotePlus(relayState)}`;
  if (pair) {
    query += `&SigAlg=${quotePlus(source.signature_algorithm)}`;
    const { hash, ecdsa } = hashOfSignatureAlgorithm(source.signature_algorithm);
    const key = createPrivateKey(pair.privateKeyPem);
    const signature = sign(hash, Buffer.from(query, 'utf8'), ecdsa ? { key, dsaEncoding: 'ieee-p1363' } : key);
    query += `&Signature=${quotePlus(signature.toString('base64'))}`;
  }
  const url = new URL(opts.to ?? source.sso_url);
  const own = url.search.replace(/^\?/, '');
  url.search = '';
  return `${url.toString()}?${own ? `${own}&` : ''}${query}`;
}
