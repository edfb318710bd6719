/**
 * The identification stage's challenge and response (authentik's IdentificationChallenge /
 * IdentificationChallengeResponseRequest).
 */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import {
  DESIGNATIONS,
  challengeSchema,
  nullableRef,
  ref,
  responseSchema,
  type RedirectChallenge,
  type ChallengeDef,
} from '../../flows/engine/challenge-types.js';
import type { CaptchaChallenge } from '../captcha/challenge.js';
import { PlexAuthenticationChallenge } from '../../sources/plex/challenge.js';

/**
 * a source's login button (src/sources/login-buttons.ts): a redirect to the source's login URL, or a Plex source's
 * `ak-source-plex` (the page gets the Plex token itself)
 */
export const LoginSource = Type.Object(
  {
    name: Type.String(),
    icon_url: Type.Optional(Type.Unsafe<string | null>({ type: 'string', nullable: true })),
    promoted: Type.Optional(Type.Boolean({ default: false })),
    challenge: Type.Unsafe<Static<typeof RedirectChallenge> | Static<typeof PlexAuthenticationChallenge>>({
      oneOf: [{ $ref: '#/components/schemas/RedirectChallenge' }, { $ref: '#/components/schemas/PlexAuthenticationChallenge' }],
      discriminator: {
        propertyName: 'component',
        mapping: {
          'xak-flow-redirect': '#/components/schemas/RedirectChallenge',
          'ak-source-plex': '#/components/schemas/PlexAuthenticationChallenge',
        },
      },
    }),
  },
  { description: 'Serializer for Login buttons of sources' },
);

export const IdentificationChallenge = challengeSchema(
  'ak-stage-identification',
  {
    user_fields: Type.Unsafe<string[] | null>({ type: 'array', items: { type: 'string' }, nullable: true }),
    pending_user_identifier: Type.Optional(Type.Unsafe<string | null>({ type: 'string', nullable: true })),
    password_fields: Type.Boolean(),
    allow_show_password: Type.Optional(Type.Boolean({ default: false })),
    application_pre: Type.Optional(Type.String()),
    application_pre_launch: Type.Optional(Type.String()),
    flow_designation: S.enumOf(DESIGNATIONS),
    captcha_stage: Type.Optional(nullableRef<typeof CaptchaChallenge>('CaptchaChallenge')),
    enroll_url: Type.Optional(Type.String()),
    recovery_url: Type.Optional(Type.String()),
    passwordless_url: Type.Optional(Type.String()),
    primary_action: Type.String(),
    sources: Type.Optional(Type.Array(ref('LoginSource', LoginSource))),
    show_source_labels: Type.Boolean(),
    enable_remember_me: Type.Optional(Type.Boolean({ default: true })),
    passkey_challenge: Type.Optional(
      Type.Unsafe<Record<string, unknown> | null>({ type: 'object', additionalProperties: {}, nullable: true }),
    ),
  },
  'Identification challenges with all UI elements',
);
export type IdentificationChallenge = Static<typeof IdentificationChallenge>;

export const IdentificationChallengeResponseRequest = responseSchema(
  'ak-stage-identification',
  {
    uid_field: S.text({ nullable: true, 'x-optional': true, maxLength: 1024 }),
    password: S.text({ nullable: true, 'x-optional': true, 'x-no-trim': true, maxLength: 4096 }),
    captcha_token: S.text({ nullable: true, 'x-optional': true, maxLength: 8192 }),
    passkey: S.obj({ nullable: true, 'x-optional': true }),
  },
  'Identification challenge',
);

export const identificationChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-identification',
    challenge: { name: 'IdentificationChallenge', schema: IdentificationChallenge },
    response: { name: 'IdentificationChallengeResponseRequest', schema: IdentificationChallengeResponseRequest },
    parts: [
      { name: 'LoginSource', schema: LoginSource },
      { name: 'PlexAuthenticationChallenge', schema: PlexAuthenticationChallenge },
    ],
  },
];
