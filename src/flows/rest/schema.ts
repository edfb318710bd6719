/** Flow and binding fields as authentik 2026.8.3 declares them, with authentik's defaults. */
import { Type } from '@sinclair/typebox';
import { S, SLUG_PATTERN, type Props } from '../../rest/schema.js';
import { DESIGNATIONS, LAYOUTS } from '../engine/challenge-types.js';

export { DESIGNATIONS, LAYOUTS };
export const DENIED_ACTIONS = ['message_continue', 'message', 'continue'] as const;
export const AUTHENTICATION = [
  'none',
  'require_authenticated',
  'require_unauthenticated',
  'require_superuser',
  'require_redirect',
  'require_outpost',
  'require_token',
] as const;
export const POLICY_ENGINE_MODES = ['all', 'any'] as const;
export const INVALID_RESPONSE_ACTIONS = ['retry', 'restart', 'restart_with_context'] as const;

import { DEFAULT_BACKGROUND } from '../background.js';

export { DEFAULT_BACKGROUND };

export const flowProps: Props = {
  pk: S.ro(S.uuid()),
  policybindingmodel_ptr_id: S.ro(S.uuid()),
  name: S.str(),
  slug: S.str({
    pattern: SLUG_PATTERN,
    'x-slug': 'django',
    'x-unique': { table: 'flows', column: 'slug', self: 'flow_uuid', message: 'Flow with this slug already exists.' },
  }),
  title: S.str(),
  designation: S.enumOf(DESIGNATIONS),
  background: S.text({ default: '' }),
  background_url: S.ro(S.text({ 'x-computed': true })),
  background_themed_urls: S.ro(Type.Unsafe({ $ref: '#/components/schemas/ThemedUrls', nullable: true, 'x-computed': true })),
  stages: S.ro(Type.Array(S.uuid(), { 'x-computed': true })),
  policies: S.ro(Type.Array(S.uuid(), { 'x-computed': true })),
  cache_count: S.ro(Type.Integer({ 'x-computed': true })),
  policy_engine_mode: S.enumOf(POLICY_ENGINE_MODES, { default: 'any' }),
  compatibility_mode: S.bool({ default: false }),
  export_url: S.ro(S.text({ 'x-computed': true })),
  layout: S.enumOf(LAYOUTS, { default: 'stacked' }),
  denied_action: S.enumOf(DENIED_ACTIONS, { default: 'message_continue' }),
  authentication: S.enumOf(AUTHENTICATION, { default: 'none' }),
};

/** the flow summary embedded in every stage's `flow_set` */
export const flowSetProps: Props = {
  pk: S.ro(S.uuid()),
  policybindingmodel_ptr_id: S.ro(S.uuid()),
  name: S.ro(S.text()),
  slug: S.ro(S.text({ pattern: SLUG_PATTERN })),
  title: S.ro(S.text()),
  designation: S.ro(S.enumOf(DESIGNATIONS)),
  background_url: S.ro(S.text()),
  policy_engine_mode: S.ro(S.enumOf(POLICY_ENGINE_MODES)),
  compatibility_mode: S.ro(S.bool()),
  export_url: S.ro(S.text()),
  layout: S.ro(S.enumOf(LAYOUTS)),
  denied_action: S.ro(S.enumOf(DENIED_ACTIONS)),
};

export const bindingProps: Props = {
  pk: S.ro(S.uuid()),
  policybindingmodel_ptr_id: S.ro(S.uuid()),
  target: S.uuid({ 'x-ref': { table: 'flows', column: 'flow_uuid' }, nullable: false }),
  stage: S.uuid({ 'x-ref': { table: 'stages', column: 'stage_uuid' }, nullable: false }),
  stage_obj: S.ro(Type.Unsafe({ $ref: '#/components/schemas/Stage', 'x-computed': true })),
  evaluate_on_plan: S.bool({ default: false }),
  re_evaluate_policies: S.bool({ default: true }),
  order: S.int(),
  policy_engine_mode: S.enumOf(POLICY_ENGINE_MODES, { default: 'any' }),
  invalid_response_action: S.enumOf(INVALID_RESPONSE_ACTIONS, { default: 'retry' }),
};
