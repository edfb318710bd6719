/// <reference path="../../saml/xml-encryption.d.ts" />
/** An EncryptedAssertion opened with the source's encryption key pair (xml-encryption: RSA-OAEP key transport, AES). */
import { decrypt } from 'xml-encryption';
import { SamlError, serialize } from '../../saml/xml.js';

export function decryptAssertion(encryptedAssertion: Element, privateKeyPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    decrypt(serialize(encryptedAssertion), { key: privateKeyPem, warnInsecureAlgorithm: false }, (err, text) => {
      if (err || typeof text !== 'string') reject(new SamlError('Failed to decrypt the assertion.'));
      else resolve(text);
    });
  });
}
