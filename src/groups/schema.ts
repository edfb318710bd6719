/** The group model as the API shows it: authentik's GroupSerializer fields, defaults and validation. */
import { Type } from '@sinclair/typebox';
import { S, type Props } from '../rest/schema.js';

const listOf = (component: string, o: Record<string, unknown> = {}) =>
  S.ro(Type.Array(Type.Unsafe({ $ref: `#/components/schemas/${component}` }), { 'x-computed': true, ...o }));

export const groupProps: Props = {
  pk: S.ro(S.uuid({ title: 'Group uuid' })),
  num_pk: S.ro(Type.Integer()),
  name: S.str({
    'x-unique': { table: 'groups', column: 'name', self: 'group_uuid', message: 'Group with this name already exists.' },
  }),
  is_superuser: S.bool({ default: false, description: 'Users added to this group will be superusers.' }),
  // DRF's `default=list`: a PUT without them clears them (resource.ts)
  parents: S.m2m({ table: 'groups', column: 'group_uuid' }, { default: [], 'x-m2m-table': true }),
  parents_obj: listOf('RelatedGroup', { nullable: true }),
  users: Type.Array(Type.Integer(), {
    'x-m2m': { table: 'users', column: 'id', int: true },
    'x-json': true,
    'x-m2m-table': true,
    default: [],
  }),
  users_obj: listOf('PartialUser', { nullable: true }),
  attributes: S.obj({ default: {} }),
  // stored and shown; what a role grants comes with RBAC
  roles: S.m2m({ table: 'roles', column: 'role_uuid' }, { 'x-m2m-table': true, 'x-optional': true }),
  roles_obj: listOf('Role'),
  inherited_roles_obj: listOf('Role', { nullable: true }),
  children: S.ro(Type.Array(S.uuid(), { 'x-computed': true })),
  children_obj: listOf('RelatedGroup', { nullable: true }),
};

/** authentik's RelatedGroupSerializer: a parent or child as a group shows it */
export const relatedGroupComponent = {
  type: 'object',
  description: 'Stripped down group serializer to show relevant children/parents for groups',
  properties: {
    pk: { type: 'string', format: 'uuid', readOnly: true, title: 'Group uuid' },
    name: { type: 'string' },
    is_superuser: { type: 'boolean', description: 'Users added to this group will be superusers.' },
    attributes: { type: 'object', additionalProperties: {} },
    group_uuid: { type: 'string', format: 'uuid', readOnly: true },
  },
  required: ['group_uuid', 'name', 'pk'],
};

export const userAccountRequestComponent = {
  type: 'object',
  description: 'Account adding/removing operations',
  properties: { pk: { type: 'integer' } },
  required: ['pk'],
};
