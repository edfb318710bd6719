/**
 * The XML signature and digest algorithms authentik's SAML source offers (SignatureAlgorithmEnum, DigestAlgorithmEnum)
 * that xml-crypto does not bring itself — RSA-SHA384, ECDSA (r‖s as XML-DSig wants, `ieee-p1363`), DSA-SHA1 and
 * SHA-384 — as xml-crypto algorithm classes over node:crypto, registered on each SignedXml.
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type BinaryLike, type KeyLike } from 'node:crypto';
import type { SignedXml } from 'xml-crypto';

const DSIG_MORE = 'http://www.w3.org/2001/04/xmldsig-more#';

function signatureAlgorithm(name: string, hash: string, ecdsa: boolean) {
  return class {
    getSignature(data: BinaryLike, key: KeyLike): string {
      const k = createPrivateKey(key as string);
      return sign(hash, Buffer.from(data as string), ecdsa ? { key: k, dsaEncoding: 'ieee-p1363' } : k).toString('base64');
    }
    verifySignature(material: string, key: KeyLike, value: string): boolean {
      const k = createPublicKey(key as string);
      return verify(hash, Buffer.from(material), ecdsa ? { key: k, dsaEncoding: 'ieee-p1363' } : k, Buffer.from(value, 'base64'));
    }
    getAlgorithmName() {
      return name;
    }
  };
}

class Sha384 {
  getHash(xml: string) {
    return createHash('sha384').update(xml, 'utf8').digest('base64');
  }
  getAlgorithmName() {
    return `${DSIG_MORE}sha384`;
  }
}

const EXTRA_SIGNATURES: Record<string, ReturnType<typeof signatureAlgorithm>> = {
  [`${DSIG_MORE}rsa-sha384`]: signatureAlgorithm(`${DSIG_MORE}rsa-sha384`, 'sha384', false),
  [`${DSIG_MORE}ecdsa-sha1`]: signatureAlgorithm(`${DSIG_MORE}ecdsa-sha1`, 'sha1', true),
  [`${DSIG_MORE}ecdsa-sha256`]: signatureAlgorithm(`${DSIG_MORE}ecdsa-sha256`, 'sha256', true),
  [`${DSIG_MORE}ecdsa-sha384`]: signatureAlgorithm(`${DSIG_MORE}ecdsa-sha384`, 'sha384', true),
  [`${DSIG_MORE}ecdsa-sha512`]: signatureAlgorithm(`${DSIG_MORE}ecdsa-sha512`, 'sha512', true),
  'http://www.w3.org/2000/09/xmldsig#dsa-sha1': signatureAlgorithm('http://www.w3.org/2000/09/xmldsig#dsa-sha1', 'sha1', false),
};

/** the SignedXml with every algorithm authentik's source offers */
export function withAlgorithms(sx: SignedXml): SignedXml {
  sx.SignatureAlgorithms = { ...sx.SignatureAlgorithms, ...EXTRA_SIGNATURES } as SignedXml['SignatureAlgorithms'];
  sx.HashAlgorithms = { ...sx.HashAlgorithms, [`${DSIG_MORE}sha384`]: Sha384 } as SignedXml['HashAlgorithms'];
  return sx;
}

/** node:crypto's hash for a signature algorithm URI (the redirect binding's detached signature) */
export function hashOfSignatureAlgorithm(uri: string): { hash: string; ecdsa: boolean } {
  const m = /#(rsa|ecdsa|dsa)-(sha1|sha256|sha384|sha512)$/.exec(uri);
  if (!m) return { hash: 'sha256', ecdsa: false };
  return { hash: m[2]!, ecdsa: m[1] === 'ecdsa' };
}
