/**
 * Mutual TLS stage (authentik's enterprise `authentik_stages_mtls`): the person is who their client certificate says.
 *
 * Runs without asking anything: the request's certificates (certificate.ts) are checked against the stage's
 * certificate authorities, else the brand's `client_certificates`; the first one an authority issued counts.
 * - none valid: `optional` passes on; `required` denies ("Certificate required but no certificate was given."; with
 *   no authority configured at all, access denied without a message — authentik's is "Unknown error");
 * - an enrollment flow: the certificate's e-mail and common name become the prompt data `email` and `name` (for a
 *   user write stage), the certificate the plan's `certificate`;
 * - otherwise the user whose `user_attribute` equals the certificate's `cert_attribute` becomes the pending user
 *   (auth method `mtls`, the certificate in its arguments), or the flow is denied ("No user found for certificate.").
 * Beyond authentik: a pending user already chosen by an earlier stage (a password, say) is kept only if the
 * certificate names the same user — a certificate of someone else is denied, where authentik would switch to its
 * owner — and a value naming more than one user (two accounts with one e-mail) names nobody.
 */
import { X509Certificate } from 'node:crypto';
import { deny, ok, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { UsersTable } from '../../db/types.js';
import type { StageConfig } from '../types.js';
import type { mtlsSchema } from './schema.js';
import { certificateAttribute, certificateInfo, issuedBy, OID_COMMON_NAME, OID_EMAIL, requestCertificates } from './certificate.js';
import { subjectAttribute } from '../../crypto/x509.js';

export type MtlsConfig = StageConfig<typeof mtlsSchema>;

const REQUIRED = 'Certificate required but no certificate was given.';
const NO_USER = 'No user found for certificate.';

/** the stage's authorities, else the request brand's client certificates, by name (certificates only; a pair that does not parse is left out) */
async function authorities(c: StageCall<MtlsConfig>): Promise<X509Certificate[]> {
  const db = c.svc.db;
  let ids = c.config.certificate_authorities ?? [];
  if (!ids.length) ids = (await c.svc.brand(c.req.host)).client_certificates;
  if (!ids.length) return [];
  const rows = await db
    .selectFrom('crypto_certificatekeypairs')
    .select('certificate_data')
    .where('kp_uuid', 'in', ids)
    .orderBy('name')
    .execute();
  const out: X509Certificate[] = [];
  for (const r of rows)
    try {
      out.push(new X509Certificate(r.certificate_data));
    } catch {
      // an unreadable authority validates nothing
    }
  return out;
}

async function userFor(c: StageCall<MtlsConfig>, cert: X509Certificate): Promise<UsersTable | undefined> {
  const value = certificateAttribute(cert, c.config.cert_attribute);
  const column = c.config.user_attribute === 'email' ? 'email' : c.config.user_attribute === 'username' ? 'username' : undefined;
  if (!value || !column) return undefined;
  const rows = await c.svc.db.selectFrom('users').selectAll().where(column, '=', value).orderBy('id').limit(2).execute();
  return rows.length === 1 ? (rows[0] as UsersTable) : undefined;
}

async function run(c: StageCall<MtlsConfig>) {
  const cas = await authorities(c);
  if (!cas.length) return c.config.mode === 'optional' ? ok() : deny();
  const cert = requestCertificates(c.req, c.svc.config.trustedProxies).find((x) => issuedBy(x, cas));
  if (!cert) return c.config.mode === 'optional' ? ok() : deny(REQUIRED);
  if (c.flow.designation === 'enrollment') {
    c.ctx.promptData = {
      ...c.ctx.promptData,
      email: subjectAttribute(cert.raw, OID_EMAIL) ?? null,
      name: subjectAttribute(cert.raw, OID_COMMON_NAME) ?? null,
    };
    c.ctx.certificate = certificateInfo(cert);
    return ok();
  }
  const user = await userFor(c, cert);
  if (!user) return deny(NO_USER);
  const earlier = c.ctx.pendingUser;
  if (earlier && earlier.id !== null && earlier.id !== user.id) return deny(NO_USER);
  c.setPendingUser(user);
  c.ctx.authMethod ??= 'mtls';
  c.ctx.authMethodArgs = { ...c.ctx.authMethodArgs, certificate: certificateInfo(cert) };
  return ok();
}

export const mtlsRuntime: StageRuntime<MtlsConfig> = {
  component: 'ak-stage-access-denied',
  withUserInfo: false,
  challenge: run,
  respond: run,
};
