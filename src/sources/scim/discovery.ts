/** SCIM's discovery resources (RFC 7643 §5–7, RFC 7644 §4) as the SCIM source serves them. */

export const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const ENTERPRISE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';
export const LIST_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

export function serviceProviderConfig(origin: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: `${origin}/`,
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: 'Authentication scheme using the OAuth Bearer Token Standard',
        specUri: 'https://www.rfc-editor.org/info/rfc6750',
        primary: true,
      },
    ],
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: 100 },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    meta: { resourceType: 'ServiceProviderConfig', location: `${origin}/ServiceProviderConfig` },
  };
}

export function resourceTypes(origin: string, slug: string) {
  const loc = (id: string) => `${origin}/source/scim/${slug}/v2/ResourceTypes/${id}`;
  const Resources = [
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: loc('User') },
    },
    {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      schemaExtensions: [] as { schema: string; required: boolean }[],
      meta: { resourceType: 'ResourceType', location: loc('Group') },
    },
  ];
  return { schemas: [LIST_SCHEMA], totalResults: Resources.length, itemsPerPage: Resources.length, startIndex: 1, Resources };
}

const attr = (name: string, type = 'string', o: Record<string, unknown> = {}) => ({
  name,
  type,
  multiValued: false,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...o,
});

const complex = (name: string, subAttributes: unknown[], multiValued = false) => attr(name, 'complex', { multiValued, subAttributes });

export function schemas() {
  const Resources = [
    {
      id: USER_SCHEMA,
      name: 'User',
      description: 'User Account',
      attributes: [
        attr('userName', 'string', { required: true, uniqueness: 'server' }),
        complex(
          'name',
          ['formatted', 'familyName', 'givenName', 'middleName', 'honorificPrefix', 'honorificSuffix'].map((n) => attr(n)),
        ),
        attr('displayName'),
        attr('nickName'),
        attr('title'),
        attr('preferredLanguage'),
        attr('locale'),
        attr('timezone'),
        attr('active', 'boolean'),
        complex('emails', [attr('value'), attr('display'), attr('type'), attr('primary', 'boolean')], true),
        complex('phoneNumbers', [attr('value'), attr('display'), attr('type'), attr('primary', 'boolean')], true),
        complex(
          'groups',
          [attr('value', 'string', { mutability: 'readOnly' }), attr('display', 'string', { mutability: 'readOnly' })],
          true,
        ),
      ],
      meta: { resourceType: 'Schema' },
    },
    {
      id: GROUP_SCHEMA,
      name: 'Group',
      description: 'Group',
      attributes: [
        attr('displayName', 'string', { required: true }),
        complex('members', [attr('value', 'string', { mutability: 'immutable' }), attr('display'), attr('type')], true),
      ],
      meta: { resourceType: 'Schema' },
    },
    {
      id: ENTERPRISE_SCHEMA,
      name: 'EnterpriseUser',
      description: 'Enterprise User',
      attributes: [
        attr('employeeNumber'),
        attr('costCenter'),
        attr('organization'),
        attr('division'),
        attr('department'),
        complex('manager', [attr('value'), attr('displayName', 'string', { mutability: 'readOnly' })]),
      ],
      meta: { resourceType: 'Schema' },
    },
  ].map((s) => ({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:Schema'], ...s }));
  return { schemas: [LIST_SCHEMA], totalResults: Resources.length, itemsPerPage: Resources.length, startIndex: 1, Resources };
}
