/**
 * The HTTP-Redirect binding (SAML bindings §3.4): a message deflated and base64-encoded in the query, with a detached
 * signature (`SigAlg`, `Signature`) over the query's own octets — made here for Keystage's messages, and checked on
 * the other side's against the configured certificate.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { hashOfSignatureAlgorithm } from './algorithms.js';

/** a key pair's PEMs, as Keystage signs with them */
export interface SigningPair {
  privateKeyPem: string;
  certificatePem: string;
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
  source: { sso_url: string; signature_algorithm: string },
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

/** a query parameter's value exactly as it was sent (still percent-encoded), for the detached signature */
function rawParam(rawQuery: string, name: string): string | undefined {
  for (const part of rawQuery.split('&')) {
    const eq = part.indexOf('=');
    if ((eq < 0 ? part : part.slice(0, eq)) === name) return eq < 0 ? '' : part.slice(eq + 1);
  }
  return undefined;
}

/**
 * does the detached signature of a redirect-binding message hold? It covers `SAMLRequest=…` (or `SAMLResponse=…`),
 * `&RelayState=…` when sent, and `&SigAlg=…`, as the sender encoded them (SAML bindings §3.4.4.1)
 */
export function redirectSignatureHolds(
  rawQuery: string,
  param: 'SAMLRequest' | 'SAMLResponse',
  sigAlg: string,
  signatureB64: string,
  certificatePem: string,
): boolean {
  const signed = [param, 'RelayState', 'SigAlg']
    .map((k) => [k, rawParam(rawQuery, k)] as const)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const { hash, ecdsa } = hashOfSignatureAlgorithm(sigAlg);
  try {
    const key = createPublicKey(certificatePem);
    return verify(hash, Buffer.from(signed, 'utf8'), ecdsa ? { key, dsaEncoding: 'ieee-p1363' } : key, Buffer.from(signatureB64, 'base64'));
  } catch {
    return false;
  }
}
