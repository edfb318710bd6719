/** authentik's SourceSerializer and OAuthSourceSerializer fields, with authentik's defaults. */
import { Type } from '@sinclair/typebox';
import { S, SLUG_PATTERN, type Props } from '../rest/schema.js';
import { PROVIDER_TYPES } from './oauth/types.js';

export const USER_MATCHING_MODES = ['identifier', 'email_link', 'email_deny', 'username_link', 'username_deny'] as const;
export type UserMatchingMode = (typeof USER_MATCHING_MODES)[number];
export const GROUP_MATCHING_MODES = ['identifier', 'name_link', 'name_deny'] as const;
export const PKCE_METHODS = ['none', 'plain', 'S256'] as const;
export const CODE_AUTH_METHODS = ['basic_auth', 'post_body'] as const;

const flowFk = (description: string) => S.fk({ table: 'flows', column: 'flow_uuid' }, { default: null, description });
const computed = (o: Record<string, unknown> = {}) => S.ro(S.text({ 'x-computed': true, ...o }));

/** the base Source fields (every source type's, and /sources/all/'s) */
export const baseSourceProps: Props = {
  pk: S.ro(S.uuid({ title: 'Pbm uuid' })),
  name: S.str({ description: "Source's display Name." }),
  slug: S.str({
    pattern: SLUG_PATTERN,
    'x-slug': 'django',
    description: 'Internal source name, used in URLs.',
    'x-unique': { table: 'sources', column: 'slug', self: 'source_uuid', message: 'source with this slug already exists.' },
  }),
  enabled: S.bool({ default: true }),
  promoted: S.bool({
    default: false,
    description: 'When enabled, this source will be displayed as a prominent button on the login page, instead of a small icon.',
  }),
  authentication_flow: flowFk('Flow to use when authenticating existing users.'),
  enrollment_flow: flowFk('Flow to use when enrolling new users.'),
  user_property_mappings: S.m2m({ table: 'property_mappings', column: 'pm_uuid' }, { default: [], 'x-m2m-table': true }),
  group_property_mappings: S.m2m({ table: 'property_mappings', column: 'pm_uuid' }, { default: [], 'x-m2m-table': true }),
  component: computed({ description: 'Get object component so that we know how to edit the object' }),
  verbose_name: computed({ description: "Return object's verbose_name" }),
  verbose_name_plural: computed({ description: "Return object's plural verbose_name" }),
  meta_model_name: computed({ description: 'Return internal model name' }),
  policy_engine_mode: S.enumOf(['all', 'any'] as const, { default: 'any' }),
  user_matching_mode: S.enumOf(USER_MATCHING_MODES, {
    default: 'identifier',
    description: 'How the source determines if an existing user should be authenticated or a new user enrolled.',
  }),
  managed: S.ro(S.nullable(S.text({ title: 'Managed by authentik' }))),
  user_path_template: S.str({ default: 'goauthentik.io/sources/%(slug)s' }),
  icon: S.text({ default: '' }),
  icon_url: S.ro(S.nullable(S.text({ 'x-computed': true }))),
  icon_themed_urls: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/ThemedUrls' }], nullable: true, 'x-computed': true })),
};

/** the base table's columns a client writes */
export const BASE_COLUMNS = [
  'name',
  'slug',
  'enabled',
  'promoted',
  'authentication_flow',
  'enrollment_flow',
  'policy_engine_mode',
  'user_matching_mode',
  'user_path_template',
  'icon',
] as const;

const url = (description: string) => S.nullable(S.text({ description }));

/** the group matching mode of the source types that name groups (OAuth, SAML, Telegram): their own column */
export const groupMatchingModeProp = S.enumOf(GROUP_MATCHING_MODES, {
  default: 'identifier',
  description: 'How the source determines if an existing group should be used or a new group created.',
});

/** OAuthSource's own fields */
export const oauthSourceProps: Props = {
  group_matching_mode: groupMatchingModeProp,
  provider_type: S.enumOf(PROVIDER_TYPES),
  request_token_url: url('URL used to request the initial token. This URL is only required for OAuth 1.'),
  authorization_url: url('URL the user is redirect to to conest the flow.'),
  access_token_url: url('URL used by authentik to retrieve tokens.'),
  profile_url: url('URL used by authentik to get user information.'),
  pkce: S.enumOf(PKCE_METHODS, { default: 'none' }),
  consumer_key: S.str(),
  consumer_secret: S.wo(S.str({ 'x-no-trim': true })),
  callback_url: computed({ description: 'Get OAuth Callback URL' }),
  additional_scopes: S.text({ default: '' }),
  type: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/SourceType' }], 'x-computed': true })),
  oidc_well_known_url: S.text({ default: '' }),
  oidc_jwks_url: S.text({ default: '' }),
  oidc_jwks: S.obj({ default: {} }),
  authorization_code_auth_method: S.enumOf(CODE_AUTH_METHODS, {
    // when not sent on create: the type's (HTTP Basic, or the client in the body for GitHub, Twitch, Entra ID)
    'x-optional': true,
    description: 'How to perform authentication during an authorization_code token request flow',
  }),
};

export const OAUTH_COLUMNS = [
  'provider_type',
  'request_token_url',
  'authorization_url',
  'access_token_url',
  'profile_url',
  'pkce',
  'consumer_key',
  'consumer_secret',
  'additional_scopes',
  'oidc_well_known_url',
  'oidc_jwks_url',
  'oidc_jwks',
  'authorization_code_auth_method',
  'group_matching_mode',
] as const;

export const sourceTypeComponent = Type.Object(
  {
    name: Type.String(),
    verbose_name: Type.String(),
    urls_customizable: Type.Boolean(),
    request_token_url: Type.Unsafe<string | null>({ type: 'string', nullable: true, readOnly: true }),
    authorization_url: Type.Unsafe<string | null>({ type: 'string', nullable: true, readOnly: true }),
    access_token_url: Type.Unsafe<string | null>({ type: 'string', nullable: true, readOnly: true }),
    profile_url: Type.Unsafe<string | null>({ type: 'string', nullable: true, readOnly: true }),
    oidc_well_known_url: Type.Unsafe<string | null>({ type: 'string', nullable: true, readOnly: true }),
    oidc_jwks_url: Type.Unsafe<string | null>({ type: 'string', nullable: true, readOnly: true }),
  },
  { description: 'Serializer for SourceType' },
);

/** a user's connection (authentik's UserOAuthSourceConnectionSerializer) */
export const connectionProps: Props = {
  pk: S.ro(S.int({ title: 'ID' })),
  user: S.ro(S.int()),
  source: S.fk({ table: 'sources', column: 'source_uuid' }, { nullable: false }),
  source_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/Source' }], 'x-computed': true })),
  identifier: S.str(),
  access_token: S.wo(S.nullable(S.text({ 'x-no-trim': true }))),
  created: S.ro(S.datetime()),
  last_updated: S.ro(S.datetime()),
  expires: S.datetime({ 'x-optional': true }),
};
