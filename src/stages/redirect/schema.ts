import { S } from '../../rest/schema.js';
import { ValidationError } from '../../rest/errors.js';
import { createStageTable, fk } from '../../db/ddl.js';
import type { StageDef } from '../types.js';

export const REDIRECT_MODES = ['static', 'flow'] as const;
/** schemes never redirected to (as the OAuth2 provider's redirect URIs) */
export const FORBIDDEN_SCHEMES = new Set(['javascript', 'data', 'vbscript']);
const flowRef = { table: 'flows', column: 'flow_uuid' };

/** the URL's scheme, lower-cased, as a browser reads it (leading spaces and control characters dropped) */
export function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url.replace(/[\x00-\x20\x7f]/g, ''));
  return m ? m[1]!.toLowerCase() : '';
}

/** a static target a browser may be sent to: no script or data URL, no control characters */
export const isSafeTarget = (url: string) => !FORBIDDEN_SCHEMES.has(schemeOf(url)) && !/[\x00-\x1f\x7f]/.test(url);

export const redirectSchema = {
  kind: 'redirectstage',
  app: 'authentik_stages_redirect',
  model: 'RedirectStage',
  path: 'redirect',
  table: 'stage_redirect',
  component: 'ak-stage-redirect-form',
  verboseName: 'Redirect Stage',
  verboseNamePlural: 'Redirect Stages',
  description: 'Redirect the user to another flow, potentially with all gathered context.',
  fields: {
    keep_context: S.bool({ default: true }),
    mode: S.enumOf(REDIRECT_MODES),
    target_static: S.text({ default: '' }),
    target_flow: S.fk(flowRef, { default: null, 'x-no-reverse': true }),
  },
  filters: {},
  /** authentik's two rules; Keystage checks the stored values merged with the request, and refuses script URLs */
  validate(data, _ctx, existing) {
    const mode = data.mode ?? existing?.mode;
    const targetStatic = (data.target_static ?? existing?.target_static ?? '') as string;
    const targetFlow = data.target_flow !== undefined ? data.target_flow : existing?.target_flow;
    if (mode === 'static' && !targetStatic) throw ValidationError.nonField('Target URL should be present when mode is Static.');
    if (mode === 'flow' && !targetFlow) throw ValidationError.nonField('Target Flow should be present when mode is Flow.');
    if (targetStatic && !isSafeTarget(targetStatic))
      throw ValidationError.field('target_static', 'This URL scheme is not allowed (javascript:, data: and vbscript: are refused).');
  },
  migrations: {
    stage_redirect_0001: (dialect) => ({
      up: (db) =>
        createStageTable(db, dialect, 'stage_redirect', {
          keep_context: 'bool',
          mode: 'text',
          target_static: 'text',
          target_flow: fk('flows', 'flow_uuid'),
        }),
    }),
  },
} satisfies StageDef;
