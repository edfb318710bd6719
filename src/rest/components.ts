/** Shared component schemas referenced by several resources. */
import { Type } from '@sinclair/typebox';
import type { ApiRouter } from './routes.js';
import { registerComponents } from './resource.js';
import { flowSetProps } from '../flows/rest/schema.js';
import { baseStageProps } from '../stages/base.js';
import { S } from './schema.js';

const str = Type.String();
const ro = { readOnly: true };

export function registerSharedComponents(router: ApiRouter) {
  router.component('Pagination', {
    type: 'object',
    properties: Object.fromEntries(
      ['next', 'previous', 'count', 'current', 'total_pages', 'start_index', 'end_index'].map((k) => [k, { type: 'number' }]),
    ),
    required: ['next', 'previous', 'count', 'current', 'total_pages', 'start_index', 'end_index'],
  });
  router.component('ValidationError', {
    type: 'object',
    properties: { non_field_errors: { type: 'array', items: str }, code: str },
    additionalProperties: {},
  });
  router.component('GenericError', { type: 'object', properties: { detail: str, code: str }, additionalProperties: {} });
  router.component('UsedBy', {
    type: 'object',
    properties: {
      app: { ...str, ...ro },
      model_name: { ...str, ...ro },
      pk: { ...str, ...ro },
      name: { ...str, ...ro },
      action: { type: 'string', enum: ['cascade', 'cascade_many', 'set_null', 'set_default', 'left_dangling'], ...ro },
    },
    required: ['app', 'model_name', 'pk', 'name', 'action'],
  });
  router.component('FlowSet', { ...Type.Object(flowSetProps) });
  registerComponents(router, 'Stage', { ...baseStageProps, name: S.str() });
  router.component('ThemedUrls', { type: 'object', properties: { light: str, dark: str }, required: ['light', 'dark'] });
  router.component('TypeCreate', {
    type: 'object',
    properties: {
      name: str,
      description: str,
      component: str,
      model_name: str,
      icon_url: { type: 'string' },
      requires_enterprise: { type: 'boolean', default: false },
      deprecated: { type: 'boolean', default: false },
    },
    required: ['component', 'description', 'model_name', 'name'],
  });
  router.component('FlowDiagram', { type: 'object', properties: { diagram: { ...str, ...ro } } });
  router.component('Link', { type: 'object', properties: { link: { ...str, ...ro } }, required: ['link'] });
  router.component('Cache', { type: 'object', properties: { count: { type: 'integer', ...ro } }, required: ['count'] });
  router.component('PartialGroup', {
    type: 'object',
    properties: {
      pk: { type: 'string', format: 'uuid', ...ro },
      num_pk: { type: 'integer', ...ro },
      name: str,
      is_superuser: { type: 'boolean' },
      attributes: { type: 'object', additionalProperties: {} },
    },
    required: ['name', 'num_pk', 'pk'],
  });
  router.component('Role', {
    type: 'object',
    properties: { pk: { type: 'string', format: 'uuid', ...ro }, name: str },
    required: ['name', 'pk'],
  });
  router.component('WebAuthnDeviceType', {
    type: 'object',
    properties: { aaguid: { type: 'string', format: 'uuid' }, description: str, icon: { type: 'string', nullable: true } },
    required: ['aaguid', 'description'],
  });
  const userSelf = {
    type: 'object',
    properties: {
      pk: { type: 'integer' },
      username: str,
      name: str,
      is_active: { type: 'boolean' },
      is_superuser: { type: 'boolean' },
      is_current: { type: 'boolean' },
      groups: { type: 'array', items: { type: 'object', properties: { name: str, pk: str } } },
      roles: { type: 'array', items: { type: 'object', properties: { name: str, pk: str } } },
      email: str,
      avatar: str,
      uid: str,
      settings: { type: 'object', additionalProperties: {} },
      type: str,
      system_permissions: { type: 'array', items: str },
    },
  };
  router.component('UserSelf', userSelf);
  router.component('SessionUser', {
    type: 'object',
    properties: {
      user: { $ref: '#/components/schemas/UserSelf' },
      original: { $ref: '#/components/schemas/UserSelf' },
      users: { type: 'array', items: { $ref: '#/components/schemas/UserSelf' } },
    },
    required: ['user', 'users'],
  });
  router.component('Config', {
    type: 'object',
    properties: {
      error_reporting: { type: 'object', additionalProperties: {} },
      capabilities: {
        type: 'array',
        items: {
          type: 'string',
          enum: [
            'can_save_media',
            'can_save_reports',
            'can_geo_ip',
            'can_asn',
            'can_impersonate',
            'can_debug',
            'is_enterprise',
            'can_request',
            'can_agent_self_service',
          ],
        },
      },
      cache_timeout: { type: 'integer' },
      cache_timeout_flows: { type: 'integer' },
      cache_timeout_policies: { type: 'integer' },
    },
  });
  router.component('Version', { type: 'object', additionalProperties: {} });
}
