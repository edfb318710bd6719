/** The user model as the API shows it: authentik's fields, defaults and validation. */
import { Type } from '@sinclair/typebox';
import { S, type Props } from '../rest/schema.js';

export const USER_TYPES = ['internal', 'external', 'service_account', 'internal_service_account'] as const;

export const userProps: Props = {
  pk: S.ro(Type.Integer()),
  username: S.str({
    maxLength: 150,
    'x-unique': { table: 'users', column: 'username', self: 'id', message: 'This field must be unique.' },
  }),
  name: S.text(),
  is_active: S.bool({
    default: true,
    description: 'Designates whether this user should be treated as active. Unselect this instead of deleting accounts.',
  }),
  last_login: S.datetime({ nullable: true, default: null }),
  date_joined: S.ro(S.datetime()),
  is_superuser: S.ro(S.bool({ 'x-computed': true })),
  groups: S.m2m({ table: 'groups', column: 'group_uuid' }, { default: [], 'x-m2m-table': true }),
  groups_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/PartialGroup' }), { nullable: true, 'x-computed': true })),
  roles: S.m2m({ table: 'roles', column: 'role_uuid' }, { default: [], 'x-m2m-table': true }),
  roles_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/Role' }), { nullable: true, 'x-computed': true })),
  email: S.text({ format: 'email', maxLength: 254, default: '' }),
  avatar: S.ro(S.text({ 'x-computed': true })),
  attributes: S.obj({ default: {} }),
  uid: S.ro(S.text({ 'x-computed': true })),
  path: S.str({ default: 'users' }),
  type: S.enumOf(USER_TYPES, { default: 'internal' }),
  uuid: S.ro(S.uuid()),
  password_change_date: S.ro(S.datetime()),
  last_updated: S.ro(S.datetime()),
};
