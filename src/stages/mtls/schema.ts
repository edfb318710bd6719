import { S } from '../../rest/schema.js';
import { createJunctionTable, createStageTable } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import { m2mExists } from '../resource.js';
import type { StageDef } from '../types.js';

export const TLS_MODES = ['optional', 'required'] as const;
export const CERT_ATTRIBUTES = ['subject', 'common_name', 'email'] as const;
export const USER_ATTRIBUTES = ['username', 'email'] as const;

const certificateAuthorities = {
  table: 'stage_mtls_certificate_authorities',
  target: { table: 'crypto_certificatekeypairs', column: 'kp_uuid' },
};

export const mtlsSchema = {
  kind: 'mutualtlsstage',
  app: 'authentik_stages_mtls',
  model: 'MutualTLSStage',
  path: 'mtls',
  table: 'stage_mtls',
  component: 'ak-stage-mtls-form',
  verboseName: 'Mutual TLS Stage',
  verboseNamePlural: 'Mutual TLS Stages',
  description: 'Authenticate or enroll users using a client-certificate.',
  fields: {
    mode: S.enumOf(TLS_MODES),
    certificate_authorities: S.m2m(certificateAuthorities.target, {
      default: [],
      'x-m2m-table': true,
      description:
        'Configure certificate authorities to validate the certificate against. This option has a higher priority than the `client_certificate` option on `Brand`.',
    }),
    cert_attribute: S.enumOf(CERT_ATTRIBUTES),
    user_attribute: S.enumOf(USER_ATTRIBUTES),
  },
  m2m: { certificate_authorities: certificateAuthorities },
  filters: {
    stage_uuid: uuidFilter,
    mode: { type: 'enum', column: 't.mode', values: TLS_MODES },
    cert_attribute: { type: 'enum', column: 't.cert_attribute', values: CERT_ATTRIBUTES },
    user_attribute: { type: 'enum', column: 't.user_attribute', values: USER_ATTRIBUTES },
    certificate_authorities: {
      type: 'm2m',
      ref: certificateAuthorities.target,
      exists: m2mExists(certificateAuthorities),
    },
  },
  migrations: {
    stage_mtls_0001: (dialect) => ({
      async up(db) {
        await createStageTable(db, dialect, 'stage_mtls', { mode: 'text', cert_attribute: 'text', user_attribute: 'text' });
        await createJunctionTable(db, certificateAuthorities.table, certificateAuthorities.target);
      },
    }),
  },
} satisfies StageDef;
