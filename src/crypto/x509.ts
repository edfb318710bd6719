/**
 * Certificates and keys as authentik reads and builds them (authentik/crypto/models.py, signals.py, builder.py):
 * loading PEM, the details stored beside a pair (key type, expiry, RFC 4514 subject, fingerprints, kid) and
 * self-signed certificates. Keys, signatures and certificate checks are node:crypto's; the X.509 structure is built
 * and its subject read with @peculiar/asn1-x509.
 */
import { createHash, createPrivateKey, generateKeyPair, randomUUID, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  Certificate,
  Extension,
  Extensions,
  GeneralName,
  id_ce_subjectAltName,
  Name as AsnName,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
} from '@peculiar/asn1-x509';
import { VERSION } from '../version.js';

export const KEY_TYPES = ['rsa', 'ec', 'dsa', 'ed25519', 'ed448'] as const;
export type KeyType = (typeof KEY_TYPES)[number];
/** authentik's `PrivateKeyAlg` (the `alg` of a generation request) */
export const GENERATE_ALGS = ['rsa', 'ecdsa', 'ed25519', 'ed448'] as const;
export type GenerateAlg = (typeof GENERATE_ALGS)[number];

/** the parsed certificate of PEM text, or undefined when it holds none Node can read */
export function loadCertificate(pem: string): X509Certificate | undefined {
  if (!pem.includes('-----BEGIN CERTIFICATE-----')) return undefined;
  try {
    const cert = new X509Certificate(pem);
    // reading the parts authentik reads (as its `str(load_pem_x509_certificate(…))`) fails on a broken one
    void cert.subject;
    void cert.publicKey;
    return cert;
  } catch {
    return undefined;
  }
}

/** authentik strips every line of a PEM private key before loading it */
const normalizeKeyPem = (pem: string) =>
  pem
    .split('\n')
    .map((l) => l.trim())
    .join('\n');

/** the private key of unencrypted PEM text, or undefined (garbage, or encrypted) */
export function loadPrivateKey(pem: string): KeyObject | undefined {
  if (pem === '' || !pem.includes('-----BEGIN')) return undefined;
  try {
    const key = createPrivateKey({ key: normalizeKeyPem(pem), format: 'pem' });
    return key.type === 'private' ? key : undefined;
  } catch {
    return undefined;
  }
}

/** whether the certificate's public key is the one of `key` */
export function keyMatchesCertificate(cert: X509Certificate, key: KeyObject): boolean {
  try {
    return cert.checkPrivateKey(key);
  } catch {
    return false;
  }
}

export function keyTypeOf(key: KeyObject): KeyType | null {
  const t = key.asymmetricKeyType;
  return t === 'rsa' || t === 'rsa-pss' ? 'rsa' : t === 'ec' ? 'ec' : t === 'dsa' ? 'dsa' : t === 'ed25519' || t === 'ed448' ? t : null;
}

/** authentik's `generate_key_id`: unpadded base64url of SHA-512 over the PEM text; '' without a key */
export const keyIdOf = (keyPem: string): string => (keyPem ? createHash('sha512').update(keyPem, 'utf8').digest('base64url') : '');

export const colonHex = (buf: Buffer) => buf.toString('hex').replace(/(..)(?!$)/g, '$1:');

// cryptography's _NAMEOID_TO_NAME: the attribute names rfc4514_string() writes; others as dotted OIDs
const RDN_NAMES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.6': 'C',
  '2.5.4.9': 'STREET',
  '0.9.2342.19200300.100.1.25': 'DC',
  '0.9.2342.19200300.100.1.1': 'UID',
};

/** cryptography's `_escape_dn_value` (RFC 4514 section 2.4) */
function escapeDnValue(v: string): string {
  if (!v) return '';
  let s = v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\+/g, '\\+').replace(/,/g, '\\,');
  s = s.replace(/;/g, '\\;').replace(/</g, '\\<').replace(/>/g, '\\>').replace(/\0/g, '\\00');
  if (s[0] === '#' || s[0] === ' ') s = `\\${s}`;
  if (s.endsWith(' ')) s = `${s.slice(0, -1)}\\ `;
  return s;
}

/** the subject (or issuer) as cryptography's `Name.rfc4514_string()`: RDNs last to first, `+` within one */
export function rfc4514Subject(der: Buffer, which: 'subject' | 'issuer' = 'subject'): string {
  const rdns = AsnConvert.parse(der, Certificate).tbsCertificate[which];
  return [...rdns]
    .reverse()
    .map((rdn) =>
      [...rdn]
        .map((atv) => {
          const name = RDN_NAMES[atv.type] ?? atv.type;
          const v = atv.value;
          const text =
            v.anyValue !== undefined && v.toString() === '' ? `#${Buffer.from(v.anyValue).toString('hex')}` : escapeDnValue(v.toString());
          return `${name}=${text}`;
        })
        .join('+'),
    )
    .join(',');
}

/** the first value of a subject attribute (`2.5.4.3` common name, `1.2.840.113549.1.9.1` e-mail), as cryptography's `get_attributes_for_oid` */
export function subjectAttribute(der: Buffer, oid: string): string | undefined {
  for (const rdn of AsnConvert.parse(der, Certificate).tbsCertificate.subject)
    for (const atv of rdn) if (atv.type === oid) return atv.value.toString();
  return undefined;
}

export interface CertificateDetails {
  key_type: KeyType | null;
  cert_expiry: string;
  cert_subject: string;
  fingerprint_sha256: string;
  fingerprint_sha1: string;
}

/** what authentik's `extract_certificate_metadata` stores (fingerprints as lowercase colon-separated hex) */
export function certificateDetails(cert: X509Certificate): CertificateDetails {
  return {
    key_type: keyTypeOf(cert.publicKey),
    cert_expiry: new Date(cert.validTo).toISOString(),
    cert_subject: rfc4514Subject(cert.raw),
    fingerprint_sha256: colonHex(createHash('sha256').update(cert.raw).digest()),
    fingerprint_sha1: colonHex(createHash('sha1').update(cert.raw).digest()),
  };
}

/** the stored columns derived from a pair's certificate and key (authentik's pre_save signal) */
export function derivedColumns(certificatePem: string, keyPem: string) {
  const cert = loadCertificate(certificatePem);
  const details = cert
    ? certificateDetails(cert)
    : { key_type: null, cert_expiry: null, cert_subject: null, fingerprint_sha256: null, fingerprint_sha1: null };
  return { ...details, kid: keyPem ? keyIdOf(keyPem) : null };
}

const generate = promisify(generateKeyPair);

export type EcCurve = 'P-256' | 'P-384' | 'P-521';
/** ECDSA with the hash of the curve's size */
const ECDSA_SIGNATURE: Record<EcCurve, { oid: string; digest: string }> = {
  'P-256': { oid: '1.2.840.10045.4.3.2', digest: 'sha256' },
  'P-384': { oid: '1.2.840.10045.4.3.3', digest: 'sha384' },
  'P-521': { oid: '1.2.840.10045.4.3.4', digest: 'sha512' },
};

async function newKeyPair(alg: GenerateAlg, rsaBits: number, curve: EcCurve): Promise<{ privateKey: KeyObject; publicKey: KeyObject }> {
  switch (alg) {
    case 'rsa':
      return generate('rsa', { modulusLength: rsaBits, publicExponent: 65537 });
    case 'ecdsa':
      return generate('ec', { namedCurve: curve });
    case 'ed25519':
      return generate('ed25519');
    default:
      return generate('ed448');
  }
}

/**
 * The signature algorithm of a self-signed certificate by key type (SHA-256 as authentik's builder; Ed25519 and
 * Ed448 sign the message itself): its OID, whether the parameters are an explicit NULL (RSA), and node:crypto's digest.
 */
const SIGNATURE: Record<GenerateAlg, { oid: string; nullParams: boolean; digest: string | null }> = {
  rsa: { oid: '1.2.840.113549.1.1.11', nullParams: true, digest: 'sha256' },
  ecdsa: { oid: '1.2.840.10045.4.3.2', nullParams: false, digest: 'sha256' },
  ed25519: { oid: '1.3.101.112', nullParams: false, digest: null },
  ed448: { oid: '1.3.101.113', nullParams: false, digest: null },
};

const NULL_DER = new Uint8Array([0x05, 0x00]).buffer;

/** whether this process can build a self-signed certificate for `alg` (all of authentik's) */
export const canGenerate = (alg: GenerateAlg): boolean => (GENERATE_ALGS as readonly string[]).includes(alg);

/**
 * An unsigned big-endian number as a DER INTEGER's content: no leading zero bytes (a certificate whose serial starts
 * with a needless zero is refused by OpenSSL, one UUID in 256), and one zero byte first when the high bit is set.
 */
export function minimalPositiveInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = Buffer.from(bytes.subarray(start));
  return body[0]! >= 0x80 ? Buffer.concat([Buffer.from([0]), body]) : body;
}

export interface BuiltPair {
  certificate: string;
  privateKey: string;
}

/**
 * authentik's `CertificateBuilder.build`: a new key (RSA 4096, EC P-256, Ed25519, Ed448), a certificate for `commonName`
 * (its first 64 characters, O=Keystage, OU=Self-signed where authentik writes O=authentik), issued by
 * `CN=Keystage <version>`, valid from a day ago for `validityDays`, the subject alternative names as DNS names in a
 * critical extension, a random 128-bit serial, signed with SHA-256. The key is PEM in OpenSSL's traditional form
 * (PKCS#1, SEC 1) where one exists, else PKCS#8, as authentik writes it.
 */
export async function buildSelfSigned(opts: {
  commonName: string;
  subjectAltNames?: string[];
  validityDays?: number;
  alg?: GenerateAlg;
  rsaBits?: number;
  /** for `ecdsa`: P-256 as authentik (the others for tests and imports), signed with the curve's hash */
  ecCurve?: EcCurve;
  /** the serial number's bytes (unsigned, big-endian); a random 128-bit one when left out */
  serial?: Uint8Array;
}): Promise<BuiltPair> {
  const alg = opts.alg ?? 'rsa';
  const curve = opts.ecCurve ?? 'P-256';
  const { privateKey, publicKey } = await newKeyPair(alg, opts.rsaBits ?? 4096, curve);
  const day = 86_400_000;
  const now = Date.now();
  const alt = (opts.subjectAltNames ?? []).filter((n) => n.trim() !== '');
  // cryptography's default string type for a name attribute: UTF8String
  const name = (attrs: [string, string][]) =>
    new AsnName(
      attrs.map(
        ([type, value]) =>
          new RelativeDistinguishedName([new AttributeTypeAndValue({ type, value: new AttributeValue({ utf8String: value }) })]),
      ),
    );
  const sig = alg === 'ecdsa' ? { ...ECDSA_SIGNATURE[curve], nullParams: false } : SIGNATURE[alg];
  const algorithm = new AlgorithmIdentifier({ algorithm: sig.oid, ...(sig.nullParams ? { parameters: NULL_DER } : {}) });
  // a random positive 128-bit serial (authentik: int(uuid4())) in minimal DER: a zero byte first only when the high bit is set
  const serial = minimalPositiveInteger(opts.serial ?? Buffer.from(randomUUID().replace(/-/g, ''), 'hex'));
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(serial).buffer,
    signature: algorithm,
    issuer: name([['2.5.4.3', `Keystage ${VERSION}`]]),
    validity: new Validity({ notBefore: new Date(now - day), notAfter: new Date(now + (opts.validityDays ?? 365) * day) }),
    subject: name([
      ['2.5.4.3', opts.commonName.slice(0, 64)],
      ['2.5.4.10', 'Keystage'],
      ['2.5.4.11', 'Self-signed'],
    ]),
    subjectPublicKeyInfo: AsnConvert.parse(publicKey.export({ type: 'spki', format: 'der' }), SubjectPublicKeyInfo),
    ...(alt.length
      ? {
          extensions: new Extensions([
            new Extension({
              extnID: id_ce_subjectAltName,
              critical: true,
              extnValue: new OctetString(
                AsnConvert.serialize(new SubjectAlternativeName(alt.map((dNSName) => new GeneralName({ dNSName })))),
              ),
            }),
          ]),
        }
      : {}),
  });
  const tbsDer = Buffer.from(AsnConvert.serialize(tbs));
  const signature = sign(sig.digest, tbsDer, privateKey);
  const der = Buffer.from(
    AsnConvert.serialize(
      new Certificate({ tbsCertificate: tbs, signatureAlgorithm: algorithm, signatureValue: new Uint8Array(signature).buffer }),
    ),
  );
  const certificate = `-----BEGIN CERTIFICATE-----\n${der
    .toString('base64')
    .replace(/(.{64})/g, '$1\n')
    .replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;
  const keyPem =
    alg === 'rsa'
      ? privateKey.export({ type: 'pkcs1', format: 'pem' })
      : alg === 'ecdsa'
        ? privateKey.export({ type: 'sec1', format: 'pem' })
        : privateKey.export({ type: 'pkcs8', format: 'pem' });
  return { certificate, privateKey: String(keyPem) };
}
