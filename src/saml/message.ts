/**
 * A SAML message's XML as either binding carries it: base64 of the XML (POST) or of the XML deflated (redirect). Each
 * is read leniently the other way too — some service provider libraries deflate POST messages (node-saml's default)
 * or send redirect messages undeflated (its `skipRequestCompression`) —; the message's checks are the same either way.
 */
import { inflateRawSync } from 'node:zlib';
import { SamlError } from './xml.js';

export const CANNOT_DECODE = 'Cannot decode SAML request.';

/**
 * a redirect binding's message inflates to at most this many bytes (deflate expands up to about 1,000 times: the
 * 16 KiB of a request line would otherwise make 16 MiB of XML to parse, a cheap way to keep a node busy)
 */
export const MAX_INFLATED_BYTES = 1024 * 1024;

const decodeBase64 = (s: string): Buffer => {
  const clean = s.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new SamlError(CANNOT_DECODE);
  return Buffer.from(clean, 'base64');
};

export function messageXml(b64: string, deflated: boolean): string {
  const raw = decodeBase64(b64);
  const text = raw.toString('utf8');
  const looksLikeXml = /^\s*</.test(text);
  if (!deflated && looksLikeXml) return text;
  try {
    return inflateRawSync(raw, { maxOutputLength: MAX_INFLATED_BYTES }).toString('utf8');
  } catch {
    if (looksLikeXml || !deflated) return text;
    throw new SamlError(CANNOT_DECODE);
  }
}
