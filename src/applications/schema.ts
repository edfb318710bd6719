/** authentik's ApplicationSerializer fields, with authentik's defaults. */
import { Type } from '@sinclair/typebox';
import { S, SLUG_PATTERN, type Props } from '../rest/schema.js';

export const POLICY_ENGINE_MODES = ['all', 'any'] as const;

export const applicationProps: Props = {
  pk: S.ro(S.uuid({ title: 'Pbm uuid' })),
  pbm_uuid: S.ro(S.uuid()),
  name: S.str({ description: "Application's display Name." }),
  slug: S.str({
    pattern: SLUG_PATTERN,
    'x-slug': 'django',
    description: 'Internal application name, used in URLs.',
    'x-unique': { table: 'applications', column: 'slug', self: 'pbm_uuid', message: 'Application with this slug already exists.' },
  }),
  provider: S.intFk(
    { table: 'providers', column: 'id' },
    {
      nullable: true,
      default: null,
      'x-unique': {
        table: 'applications',
        column: 'provider',
        self: 'pbm_uuid',
        message: 'Application with this provider already exists.',
      },
    },
  ),
  provider_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/Provider' }], nullable: true, 'x-computed': true })),
  backchannel_providers: Type.Array(Type.Integer(), {
    default: [],
    'x-m2m': { table: 'providers', column: 'id', int: true },
    'x-m2m-table': true,
  }),
  backchannel_providers_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/Provider' }), { 'x-computed': true })),
  launch_url: S.ro(S.nullable(S.text({ 'x-computed': true, description: 'Allow formatting of launch URL' }))),
  open_in_new_tab: S.bool({ default: false, description: 'Open launch URL in a new browser tab or window.' }),
  meta_launch_url: S.text({ format: 'uri', default: '' }),
  meta_icon: S.text({ default: '' }),
  meta_icon_url: S.ro(S.nullable(S.text({ 'x-computed': true, description: 'Get the URL to the App Icon image' }))),
  meta_icon_themed_urls: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/ThemedUrls' }], nullable: true, 'x-computed': true })),
  meta_description: S.text({ default: '' }),
  meta_publisher: S.text({ default: '' }),
  policy_engine_mode: S.enumOf(POLICY_ENGINE_MODES, { default: 'any' }),
  group: S.text({ default: '' }),
  meta_hide: S.bool({ default: false, description: "Hide this application from the user's My applications page." }),
};

/** columns of the applications table a client writes */
export const APPLICATION_COLUMNS = [
  'name',
  'slug',
  'provider',
  'open_in_new_tab',
  'meta_launch_url',
  'meta_icon',
  'meta_description',
  'meta_publisher',
  'policy_engine_mode',
  'group',
  'meta_hide',
] as const;
