/**
 * The client certificate of a request and its check against certificate authorities (authentik's MTLSStageView
 * helpers): where it comes from, whether one of the authorities issued it, and what the stage reads of it.
 *
 * Sources, in this order:
 * - Keystage's own TLS listener (KEYSTAGE_TLS_PORT, src/instance/tls/): the certificate the browser presented in the
 *   handshake. On such a connection no header counts: the peer is the browser itself.
 * - a reverse proxy in KEYSTAGE_TRUSTED_PROXIES that terminated TLS, in the headers authentik reads: Envoy's (and
 *   authentik's router's) `X-Forwarded-Client-Cert` (`Cert=` elements, URL-encoded PEM), nginx's `SSL-Client-Cert`
 *   and Traefik's `X-Forwarded-TLS-Client-Cert` (URL-encoded PEM, or Traefik's base64 DER without PEM lines). From
 *   any other peer these headers are ignored: anyone could send them.
 * authentik's outpost header (`X-Authentik-Outpost-Certificate`) is not read: Keystage has no outposts.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';
import { colonHex, rfc4514Subject, subjectAttribute } from '../../crypto/x509.js';
import { isTrustedProxy } from '../../rest/trusted-proxy.js';
import type { PlanCertificate } from '../../flows/engine/context.js';

export const OID_COMMON_NAME = '2.5.4.3';
export const OID_EMAIL = '1.2.840.113549.1.9.1';
const CLIENT_AUTH_EKU = '1.3.6.1.5.5.7.3.2';

/** Python's `unquote_plus` */
function unquotePlus(raw: string): string {
  try {
    return decodeURIComponent(raw.replace(/\+/g, ' '));
  } catch {
    return raw;
  }
}

function parseOne(raw: string | undefined): X509Certificate[] {
  if (!raw) return [];
  let text = unquotePlus(raw.trim().replace(/^"(.*)"$/s, '$1'));
  // Traefik's `pem: true` without the PEM lines: base64 DER (its `+` read as spaces by the unquoting above)
  if (!text.includes('-----BEGIN'))
    text = `-----BEGIN CERTIFICATE-----\n${text.replace(/[\s]/g, (c) => (c === ' ' ? '+' : ''))}\n-----END CERTIFICATE-----\n`;
  try {
    return [new X509Certificate(text)];
  } catch {
    return [];
  }
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
};

/** Envoy's XFCC: elements separated by `,`, each `key=value` pairs separated by `;` */
function parseXfcc(raw: string | undefined): X509Certificate[] {
  if (!raw) return [];
  const out: X509Certificate[] = [];
  for (const element of raw.split(',')) {
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq > 0 && pair.slice(0, eq).trim() === 'Cert') out.push(...parseOne(pair.slice(eq + 1)));
    }
  }
  return out;
}

/** every certificate the request carries, from the sources above */
export function requestCertificates(req: FastifyRequest, trustedProxies: string | undefined): X509Certificate[] {
  const socket = req.raw.socket as Partial<TLSSocket>;
  if (socket.encrypted) {
    const own = socket.getPeerX509Certificate?.();
    return own ? [own] : [];
  }
  if (!isTrustedProxy(trustedProxies, req.raw.socket.remoteAddress)) return [];
  return [
    ...parseXfcc(header(req, 'x-forwarded-client-cert')),
    ...parseOne(header(req, 'ssl-client-cert')),
    ...parseOne(header(req, 'x-forwarded-tls-client-cert')),
  ];
}

function withinValidity(cert: X509Certificate, now: number): boolean {
  return Date.parse(cert.validFrom) <= now && now <= Date.parse(cert.validTo);
}

/**
 * Whether one of `authorities` issued `cert` for client authentication, now (cryptography's client verifier with the
 * authorities as its store and no intermediates): a leaf (not a CA) within its validity whose extended key usage, if
 * it has one, includes client authentication; signed by an authority that is a CA within its own validity.
 */
export function issuedBy(cert: X509Certificate, authorities: X509Certificate[], now = Date.now()): boolean {
  if (cert.ca || !withinValidity(cert, now)) return false;
  const eku = cert.keyUsage;
  if (eku && !eku.includes(CLIENT_AUTH_EKU)) return false;
  return authorities.some((ca) => {
    try {
      return ca.ca && withinValidity(ca, now) && cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
}

/** the certificate as the plan keeps it (authentik's `_cert_to_dict`) */
export function certificateInfo(cert: X509Certificate): PlanCertificate {
  return {
    serial_number: BigInt(`0x${cert.serialNumber}`).toString(),
    subject: rfc4514Subject(cert.raw),
    issuer: rfc4514Subject(cert.raw, 'issuer'),
    fingerprint_sha256: colonHex(createHash('sha256').update(cert.raw).digest()),
    fingerprint_sha1: colonHex(createHash('sha1').update(cert.raw).digest()),
  };
}

/** the certificate's value the stage's `cert_attribute` names */
export function certificateAttribute(cert: X509Certificate, attribute: string): string | undefined {
  switch (attribute) {
    case 'subject':
      return rfc4514Subject(cert.raw);
    case 'common_name':
      return subjectAttribute(cert.raw, OID_COMMON_NAME);
    case 'email':
      return subjectAttribute(cert.raw, OID_EMAIL);
    default:
      return undefined;
  }
}
