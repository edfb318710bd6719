/**
 * At every start (authentik's crypto app `reconcile` steps):
 * - the default pair, made once: authentik's "authentik Self-signed Certificate" is Keystage's
 *   "Keystage Self-signed Certificate" — RSA (4096 bits, as authentik's builder), valid for a year, with one random
 *   DNS name under `self-signed.keystage.invalid` (authentik: `<id>.self-signed.goauthentik.io`). Not recreated once
 *   an administrator renamed or deleted it (authentik looks it up by name too).
 * - the certificate details of pairs written before they were stored (migration 0016_crypto_details).
 * authentik's "authentik Internal JWT Certificate" (managed `goauthentik.io/crypto/jwt-managed`) signs its outposts'
 * tokens; Keystage has no outposts and makes none.
 */
import { randomBytes } from 'node:crypto';
import type { DB } from '../db/index.js';
import { secretsOf } from '../instance/secrets.js';
import { insertKeyPair, keyPemOf } from './resource.js';
import { buildSelfSigned, derivedColumns } from './x509.js';

export const SELF_SIGNED_NAME = 'Keystage Self-signed Certificate';

export async function ensureSelfSignedCertificate(db: DB, rsaBits = 4096): Promise<void> {
  const exists = await db
    .selectFrom('crypto_certificatekeypairs')
    .select('kp_uuid')
    .where('name', '=', SELF_SIGNED_NAME)
    .executeTakeFirst();
  if (exists) return;
  // a random label as authentik's generate_id() (40 characters of letters and digits)
  const label = randomBytes(30).toString('base64url').replace(/[-_]/g, 'x').slice(0, 40);
  const built = await buildSelfSigned({
    commonName: SELF_SIGNED_NAME,
    subjectAltNames: [`${label}.self-signed.keystage.invalid`],
    rsaBits,
  });
  // several nodes starting together: the first insert wins, the others' fail on the unique name and are dropped
  try {
    await db
      .transaction()
      .execute((tx) =>
        insertKeyPair(tx, secretsOf(db), { name: SELF_SIGNED_NAME, certificate: built.certificate, keyPem: built.privateKey }),
      );
  } catch (e) {
    const again = await db
      .selectFrom('crypto_certificatekeypairs')
      .select('kp_uuid')
      .where('name', '=', SELF_SIGNED_NAME)
      .executeTakeFirst();
    if (!again) throw e;
  }
}

/** fills the stored details (key type, expiry, subject, fingerprints, kid) of pairs that lack them */
export async function backfillCertificateDetails(db: DB): Promise<void> {
  const rows = await db
    .selectFrom('crypto_certificatekeypairs')
    .select(['kp_uuid', 'certificate_data', 'key_data'])
    .where('fingerprint_sha256', 'is', null)
    .execute();
  const secrets = secretsOf(db);
  for (const r of rows) {
    const details = derivedColumns(r.certificate_data, keyPemOf(secrets, r));
    if (details.fingerprint_sha256 === null && details.kid === null) continue;
    await db.updateTable('crypto_certificatekeypairs').set(details).where('kp_uuid', '=', r.kp_uuid).execute();
  }
}
