/** The native front channel's challenge (authentik's NativeLogoutChallenge): one service provider's logout at a time. */
import { Type, type Static } from '@sinclair/typebox';
import { challengeSchema, responseSchema, type ChallengeDef } from '../../../../flows/engine/challenge-types.js';

export const NativeLogoutChallenge = challengeSchema(
  'ak-provider-saml-native-logout',
  {
    provider_name: Type.Optional(Type.String()),
    is_complete: Type.Optional(Type.Boolean({ default: false })),
    post_url: Type.Optional(Type.String()),
    redirect_url: Type.Optional(Type.String()),
    saml_binding: Type.Optional(Type.Unsafe<'redirect' | 'post'>({ $ref: '#/components/schemas/SAMLBindingsEnum' })),
    saml_request: Type.Optional(Type.String()),
    saml_response: Type.Optional(Type.String()),
    saml_relay_state: Type.Optional(Type.String()),
  },
  'Challenge for native browser logout',
);
export type NativeLogoutChallenge = Static<typeof NativeLogoutChallenge>;

export const NativeLogoutChallengeResponseRequest = responseSchema(
  'ak-provider-saml-native-logout',
  {},
  'Response for native browser logout',
);

/** authentik's name for the bindings' enum, which the challenge refers to */
const SAMLBindingsEnum = Type.Unsafe<'redirect' | 'post'>({ type: 'string', enum: ['redirect', 'post'] });

export const nativeLogoutChallenges: ChallengeDef[] = [
  {
    component: 'ak-provider-saml-native-logout',
    challenge: { name: 'NativeLogoutChallenge', schema: NativeLogoutChallenge },
    response: { name: 'NativeLogoutChallengeResponseRequest', schema: NativeLogoutChallengeResponseRequest },
    parts: [{ name: 'SAMLBindingsEnum', schema: SAMLBindingsEnum }],
  },
];
