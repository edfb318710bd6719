/**
 * /crypto/certificatekeypairs/ (authentik's CertificateKeyPairViewSet): the pairs, `generate`, `view_certificate`,
 * `view_private_key` (each view an audit event `secret_view`) and `used_by`. The private key is write-only: sealed at
 * rest (src/instance/secrets.ts) and returned by `view_private_key` alone.
 */
import { hasGlobal } from '../rbac/check.js';
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef, type Tx } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S, type Props } from '../rest/schema.js';
import { drfDate, nowIso } from '../rest/serialize.js';
import { Forbidden, ValidationError } from '../rest/errors.js';
import { requireCaller } from '../rest/auth.js';
import { lockConfigEpoch } from '../db/config-epoch.js';
import { validateBody } from '../rest/validate.js';
import { parseBool } from '../rest/list.js';
import { type ColumnReference, referencesUsedBy, releaseReferences } from '../rest/references.js';
import { secretsOf, type Secrets } from '../instance/secrets.js';
import type { DB } from '../db/index.js';
import type { Services } from '../services.js';
import type { CertificateKeyPairsTable } from './table.js';
import {
  buildSelfSigned,
  canGenerate,
  derivedColumns,
  GENERATE_ALGS,
  KEY_TYPES,
  keyMatchesCertificate,
  loadCertificate,
  loadPrivateKey,
  type GenerateAlg,
} from './x509.js';

export const KEY_FIELD = 'crypto_certificatekeypairs.key_data';
/** authentik's internal JWT certificate (outposts), hidden from the API; Keystage has none, but hides it too */
export const MANAGED_JWT_KEY = 'goauthentik.io/crypto/jwt-managed';

/** a column of another table that references certificate-key pairs (a provider's `signing_key`, …) */
export type KeyPairReference = ColumnReference;

const KEY_TYPE_ENUM = 'CertificateKeyPairKeyTypeEnum';

export const keyPairProps: Props = {
  pk: S.ro(S.uuid({ title: 'Kp uuid' })),
  name: S.str({
    'x-unique': {
      table: 'crypto_certificatekeypairs',
      column: 'name',
      self: 'kp_uuid',
      message: 'Certificate-Key Pair with this name already exists.',
    },
  }),
  fingerprint_sha256: S.ro(S.text({ nullable: true, description: 'SHA256 fingerprint of the certificate' })),
  fingerprint_sha1: S.ro(S.text({ nullable: true, description: 'SHA1 fingerprint of the certificate' })),
  cert_expiry: S.ro(S.datetime({ nullable: true, description: 'Certificate expiry date' })),
  cert_subject: S.ro(S.text({ nullable: true, description: 'Certificate subject as RFC4514 string' })),
  private_key_available: S.ro(S.bool({ 'x-computed': true, description: 'Show if this keypair has a private key configured or not' })),
  key_type: S.ro(
    Type.Unsafe<string | null>({
      allOf: [{ $ref: `#/components/schemas/${KEY_TYPE_ENUM}` }],
      nullable: true,
      description: "Key algorithm type detected from the certificate's public key",
    }),
  ),
  certificate_download_url: S.ro(S.text({ 'x-computed': true, description: 'Get URL to download certificate' })),
  private_key_download_url: S.ro(S.text({ 'x-computed': true, description: 'Get URL to download private key' })),
  managed: S.ro(S.text({ nullable: true, title: 'Managed by authentik' })),
  certificate_data: S.wo(S.str({ description: 'PEM-encoded Certificate data' })),
  key_data: S.wo(
    S.text({
      default: '',
      description: 'Optional Private Key. If this is set, you can use this keypair for encryption.',
    }),
  ),
};

type Row = CertificateKeyPairsTable;

/** the pair's private key PEM in clear ('' when it has none) */
export const keyPemOf = (secrets: Secrets, row: Pick<Row, 'key_data'>) => (row.key_data ? secrets.open(KEY_FIELD, row.key_data) : '');

/** the columns of a pair with this certificate and key, the key sealed */
export function storedPair(secrets: Secrets, certificate: string, keyPem: string) {
  return { certificate_data: certificate, key_data: secrets.seal(KEY_FIELD, keyPem), ...derivedColumns(certificate, keyPem) };
}

/** inserts a pair (the key sealed, the certificate's details read) and returns its kp_uuid */
export async function insertKeyPair(
  tx: Tx | DB,
  secrets: Secrets,
  values: { name: string; certificate: string; keyPem: string; managed?: string | null },
): Promise<string> {
  const kp_uuid = randomUUID();
  const now = nowIso();
  await tx
    .insertInto('crypto_certificatekeypairs')
    .values({
      kp_uuid,
      name: values.name,
      managed: values.managed ?? null,
      created: now,
      last_updated: now,
      ...storedPair(secrets, values.certificate, values.keyPem),
    })
    .execute();
  return kp_uuid;
}

/**
 * authentik's field validators: the certificate must load ("Unable to load certificate."), the key, when sent, too
 * ("Unable to load private key (possibly encrypted?)."). Keystage also refuses a key that is not the certificate's
 * (authentik stores such a pair and fails when it signs).
 */
function checkPair(certificate: string, keyPem: string, sent: { certificate: boolean; key: boolean }) {
  const errors: Record<string, string[]> = {};
  const cert = loadCertificate(certificate);
  if (!cert && sent.certificate) errors.certificate_data = ['Unable to load certificate.'];
  const key = keyPem ? loadPrivateKey(keyPem) : undefined;
  if (keyPem && !key && sent.key) errors.key_data = ['Unable to load private key (possibly encrypted?).'];
  if (cert && key && (sent.certificate || sent.key) && !keyMatchesCertificate(cert, key))
    errors.key_data = ['Private key does not match the certificate.'];
  if (Object.keys(errors).length) throw new ValidationError(errors);
}

/** `include_details=false` (authentik's list parameter of earlier versions): the certificate details are null */
const includeDetails = (req: FastifyRequest) => {
  const v = (req.query as Record<string, string | string[] | undefined>).include_details;
  return (Array.isArray(v) ? v[v.length - 1] : v)?.toLowerCase() !== 'false';
};

function render(rows: Row[], req: FastifyRequest): Record<string, unknown>[] {
  const details = includeDetails(req);
  return rows.map((r) => ({
    pk: r.kp_uuid,
    name: r.name,
    fingerprint_sha256: details ? r.fingerprint_sha256 : null,
    fingerprint_sha1: details ? r.fingerprint_sha1 : null,
    cert_expiry: details ? drfDate(r.cert_expiry) : null,
    cert_subject: details ? r.cert_subject : null,
    private_key_available: r.key_data !== '' && r.key_data !== null,
    key_type: details ? r.key_type : null,
    certificate_download_url: `/api/v3/crypto/certificatekeypairs/${r.kp_uuid}/view_certificate/?download`,
    private_key_download_url: `/api/v3/crypto/certificatekeypairs/${r.kp_uuid}/view_private_key/?download`,
    managed: r.managed,
  }));
}

function keyPairResource(references: () => KeyPairReference[]): ResourceDef<Row> {
  return {
    component: 'CertificateKeyPair',
    model: 'CertificateKeyPair',
    path: '/crypto/certificatekeypairs',
    opPrefix: 'crypto_certificatekeypairs',
    tag: 'crypto',
    lookup: { param: 'kp_uuid', column: 'kp_uuid', type: 'uuid' },
    props: keyPairProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_crypto.certificatekeypair', verbose: 'Certificate-Key Pair' },
    list: {
      filters: {
        name: { type: 'str', column: 'crypto_certificatekeypairs.name' },
        managed: { type: 'str', column: 'crypto_certificatekeypairs.managed' },
        has_key: {
          type: 'custom',
          schema: { type: 'boolean' },
          // authentik: only `true` narrows (pairs with a key); any other value lists them all
          parse: (values) => {
            const v = values.length ? parseBool(values[values.length - 1]!) : undefined;
            return { cond: v ? (eb) => eb('crypto_certificatekeypairs.key_data', '<>', '') : undefined };
          },
        },
        key_type: {
          type: 'custom',
          explode: true,
          schema: { type: 'array', items: { $ref: '#/components/schemas/KeyTypeEnum' } },
          parse: (values) => {
            const vals = values.filter((v) => v !== '');
            const bad = vals.find((v) => !(KEY_TYPES as readonly string[]).includes(v));
            if (bad !== undefined) return { error: [`Select a valid choice. ${bad} is not one of the available choices.`] };
            return { cond: vals.length ? (eb) => eb('crypto_certificatekeypairs.key_type', 'in', vals) : undefined };
          },
        },
      },
      search: ['crypto_certificatekeypairs.name'],
      ordering: {
        name: 'crypto_certificatekeypairs.name',
        pk: 'crypto_certificatekeypairs.kp_uuid',
        managed: 'crypto_certificatekeypairs.managed',
        key_type: 'crypto_certificatekeypairs.key_type',
        cert_expiry: 'crypto_certificatekeypairs.cert_expiry',
        cert_subject: 'crypto_certificatekeypairs.cert_subject',
        fingerprint_sha256: 'crypto_certificatekeypairs.fingerprint_sha256',
        fingerprint_sha1: 'crypto_certificatekeypairs.fingerprint_sha1',
      },
      defaultOrdering: ['name'],
      pk: 'crypto_certificatekeypairs.kp_uuid',
      unique: ['crypto_certificatekeypairs.name'],
    },
    select: (db) =>
      db
        .selectFrom('crypto_certificatekeypairs')
        .selectAll()
        .where((eb) => eb.or([eb('managed', 'is', null), eb('managed', '<>', MANAGED_JWT_KEY)])),
    render: async (_db, rows, req) => render(rows, req),
    validate: async (data, ctx, existing) => {
      const secrets = secretsOf(ctx.db);
      const certificate = (data.certificate_data as string | undefined) ?? existing?.certificate_data ?? '';
      const keyPem = data.key_data !== undefined ? (data.key_data as string) : existing ? keyPemOf(secrets, existing) : '';
      checkPair(certificate, keyPem, { certificate: data.certificate_data !== undefined, key: data.key_data !== undefined });
    },
    insert: (tx, data, ctx) =>
      insertKeyPair(tx, secretsOf(ctx.db), {
        name: data.name as string,
        certificate: data.certificate_data as string,
        keyPem: (data.key_data as string | undefined) ?? '',
      }),
    update: async (tx, existing, data, ctx) => {
      const secrets = secretsOf(ctx.db);
      const set: Partial<Row> = { last_updated: nowIso() };
      if (data.name !== undefined) set.name = data.name as string;
      if (data.certificate_data !== undefined || data.key_data !== undefined) {
        const certificate = (data.certificate_data as string | undefined) ?? existing.certificate_data;
        const keyPem = data.key_data !== undefined ? (data.key_data as string) : keyPemOf(secrets, existing);
        Object.assign(set, storedPair(secrets, certificate, keyPem));
      }
      await tx.updateTable('crypto_certificatekeypairs').set(set).where('kp_uuid', '=', existing.kp_uuid).execute();
      return existing.kp_uuid;
    },
    remove: async (tx, existing) => {
      await releaseReferences(tx, references(), existing.kp_uuid);
      await tx.deleteFrom('crypto_certificatekeypairs').where('kp_uuid', '=', existing.kp_uuid).execute();
    },
    usedBy: (db, row) => referencesUsedBy(db, references(), row.kp_uuid),
  };
}

/** the longest validity a certificate can have from today (X.509 dates end in 9999) */
const MAX_VALIDITY_DAYS = Math.floor((Date.UTC(9999, 11, 30) - Date.now()) / 86_400_000);

const generationProps: Props = {
  common_name: S.str(),
  subject_alt_name: S.text({ 'x-optional': true, title: 'Subject-alt name' }),
  validity_days: S.int({ minimum: -18_000, maximum: MAX_VALIDITY_DAYS }),
  alg: S.enumOf(GENERATE_ALGS, { default: 'rsa' }),
};

export interface CryptoOptions {
  /** columns of other tables referencing pairs (from the provider registry); read at each use */
  references?: () => KeyPairReference[];
}

export function mountCrypto(router: ApiRouter, svc: Services, opts: CryptoOptions = {}) {
  const { db } = svc;
  const references = opts.references ?? (() => []);
  router.component(KEY_TYPE_ENUM, { type: 'string', enum: [...KEY_TYPES] });
  router.component('KeyTypeEnum', { type: 'string', enum: [...KEY_TYPES].sort() });
  router.component('AlgEnum', { type: 'string', enum: [...GENERATE_ALGS] });
  router.component('CertificateData', {
    type: 'object',
    description: "Get CertificateKeyPair's data",
    properties: { data: { type: 'string', readOnly: true } },
    required: ['data'],
  });
  router.component('CertificateGenerationRequest', {
    type: 'object',
    description: 'Certificate generation parameters',
    properties: {
      common_name: { type: 'string', minLength: 1 },
      subject_alt_name: { type: 'string' },
      validity_days: { type: 'integer' },
      alg: { allOf: [{ $ref: '#/components/schemas/AlgEnum' }], default: 'rsa' },
    },
    required: ['common_name', 'validity_days'],
  });
  const resource = keyPairResource(references);
  const { load, renderOne } = mountResource(router, db, resource);

  router.route('/crypto/certificatekeypairs/generate', {
    post: {
      doc: {
        operationId: 'crypto_certificatekeypairs_generate_create',
        tag: 'crypto',
        body: 'CertificateGenerationRequest',
        bodyRequired: true,
        response: 'CertificateKeyPair',
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        if (!(await hasGlobal(db, caller, 'authentik_crypto.add_certificatekeypair'))) throw Forbidden.permission();
        const data = await validateBody(generationProps, req.body, { mode: 'create', db });
        const alg = data.alg as GenerateAlg;
        if (!canGenerate(alg)) throw ValidationError.field('alg', `"${alg}" is not a valid choice.`);
        const raw = (data.subject_alt_name as string | undefined) ?? '';
        // a DNS name is an IA5String: printable ASCII only (authentik fails on others with a server error)
        if (!/^[\x20-\x7e]*$/.test(raw)) throw ValidationError.field('subject_alt_name', 'Subject-alt names must be ASCII DNS names.');
        const commonName = data.common_name as string;
        // authentik saves the pair under the common name: a second pair of that name is its unique-name error
        const clash = await db.selectFrom('crypto_certificatekeypairs').select('kp_uuid').where('name', '=', commonName).executeTakeFirst();
        if (clash) throw ValidationError.field('name', 'Certificate-Key Pair with this name already exists.');
        const built = await buildSelfSigned({
          commonName,
          subjectAltNames: raw === '' ? [] : raw.split(','),
          validityDays: data.validity_days as number,
          alg,
        });
        const key = await db.transaction().execute(async (tx) => {
          await lockConfigEpoch(tx);
          return insertKeyPair(tx, secretsOf(db), { name: commonName, certificate: built.certificate, keyPem: built.privateKey });
        });
        const out = await renderOne(req, caller, key);
        await router.audit?.(req, 'model_created', {
          model: { app: 'keystage', model_name: 'certificatekeypair', pk: key, name: commonName },
        });
        return out;
      },
    },
  });

  const param = [
    {
      name: 'kp_uuid',
      schema: { type: 'string', format: 'uuid', description: 'A UUID string identifying this Certificate-Key Pair.' },
    },
  ];
  const view = (part: 'certificate' | 'private_key') => async (req: FastifyRequest, reply: FastifyReply) => {
    const { row } = await load(req, part === 'certificate' ? 'view_certificatekeypair_certificate' : 'view_certificatekeypair_key');
    await router.audit?.(req, 'secret_view', {
      secret: { app: 'keystage', model_name: 'certificatekeypair', pk: row.kp_uuid, name: `Certificate-Key Pair ${row.name}` },
      type: part,
    });
    const data = part === 'certificate' ? row.certificate_data : keyPemOf(secretsOf(db), row);
    if (Object.hasOwn(req.query as object, 'download')) {
      const filename = `${row.name}_${part}.pem`.replace(/["\\\r\n]/g, '_');
      reply
        .header('content-type', 'application/x-pem-file')
        .header('content-disposition', `attachment; filename="${filename}"`)
        .header('cache-control', 'no-store');
      return reply.send(data);
    }
    if (part === 'private_key') reply.header('cache-control', 'no-store');
    return { data };
  };
  for (const part of ['certificate', 'private_key'] as const)
    router.route(
      `/crypto/certificatekeypairs/{kp_uuid}/view_${part}`,
      {
        get: {
          doc: {
            operationId: `crypto_certificatekeypairs_view_${part}_retrieve`,
            tag: 'crypto',
            response: 'CertificateData',
            query: [{ name: 'download', schema: { type: 'boolean' } }],
          },
          handler: view(part),
        },
      },
      param,
    );
}
