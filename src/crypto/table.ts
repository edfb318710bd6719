/** The certificate-key pair table (migration 0014_crypto). */

export interface CertificateKeyPairsTable {
  kp_uuid: string;
  name: string;
  /** PEM certificate */
  certificate_data: string;
  /** the PEM private key, sealed at rest (src/instance/secrets.ts); '' when there is none */
  key_data: string;
  managed: string | null;
  created: string;
  last_updated: string;
  /** read from the certificate and key on every write (migration 0016_crypto_details; null for rows not yet filled) */
  key_type: string | null;
  cert_expiry: string | null;
  cert_subject: string | null;
  fingerprint_sha256: string | null;
  fingerprint_sha1: string | null;
  /** authentik's `kid`: unpadded base64url SHA-512 of the PEM private key as stored in clear; null without a key */
  kid: string | null;
}

declare module '../db/types.js' {
  interface Database {
    crypto_certificatekeypairs: CertificateKeyPairsTable;
  }
}
