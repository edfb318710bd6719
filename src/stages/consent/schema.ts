import { S } from '../../rest/schema.js';
import { createStageTable } from '../../db/ddl.js';
import { uuidFilter } from '../filters.js';
import type { StageDef } from '../types.js';

export const CONSENT_MODES = ['always_require', 'permanent', 'expiring'] as const;

export const consentSchema = {
  kind: 'consentstage',
  app: 'authentik_stages_consent',
  model: 'ConsentStage',
  path: 'consent',
  table: 'stage_consent',
  component: 'ak-stage-consent-form',
  verboseName: 'Consent Stage',
  verboseNamePlural: 'Consent Stages',
  description: 'Prompt the user for confirmation.',
  fields: {
    mode: S.enumOf(CONSENT_MODES, { default: 'expiring' }),
    consent_expire_in: S.duration({
      default: 'weeks=4',
      title: 'Consent expires in',
      description: 'Offset after which consent expires. (Format: hours=1;minutes=2;seconds=3).',
    }),
  },
  filters: {
    stage_uuid: uuidFilter,
    mode: { type: 'enum', column: 't.mode', values: CONSENT_MODES },
    consent_expire_in: { type: 'str', column: 't.consent_expire_in' },
  },
  migrations: {
    stage_consent_0001: (dialect) => ({
      up: (db) => createStageTable(db, dialect, 'stage_consent', { mode: 'text', consent_expire_in: 'text' }),
    }),
  },
} satisfies StageDef;
