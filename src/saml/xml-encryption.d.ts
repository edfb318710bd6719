/** The parts of xml-encryption (no types of its own) the SAML source, the SAML provider and their tests use. */
declare module 'xml-encryption' {
  export function decrypt(
    xml: string,
    options: { key: string; warnInsecureAlgorithm?: boolean; disallowDecryptionWithInsecureAlgorithm?: boolean },
    callback: (err: Error | null, result?: string) => void,
  ): void;
  export function encrypt(
    content: string,
    options: {
      rsa_pub: string;
      pem: string;
      encryptionAlgorithm: string;
      keyEncryptionAlgorithm: string;
      keyEncryptionDigest?: string;
      warnInsecureAlgorithm?: boolean;
    },
    callback: (err: Error | null, result?: string) => void,
  ): void;
}
