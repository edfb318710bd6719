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
}

declare module '../db/types.js' {
  interface Database {
    crypto_certificatekeypairs: CertificateKeyPairsTable;
  }
}
