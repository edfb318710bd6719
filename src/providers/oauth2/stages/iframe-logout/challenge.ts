/** The front-channel logout's challenge (authentik's IframeLogoutChallenge with LogoutURL entries). */
import { Type, type Static } from '@sinclair/typebox';
import { challengeSchema, responseSchema, type ChallengeDef } from '../../../../flows/engine/challenge-types.js';

const nullableString = () => Type.Optional(Type.Unsafe<string | null>({ type: 'string', nullable: true }));

export const LogoutURL = Type.Object(
  {
    url: Type.String(),
    provider_name: nullableString(),
    binding: nullableString(),
    saml_request: nullableString(),
    saml_response: nullableString(),
    saml_relay_state: nullableString(),
  },
  { description: 'Data for a single logout URL' },
);
export type LogoutURL = Static<typeof LogoutURL>;

export const IframeLogoutChallenge = challengeSchema(
  'ak-provider-iframe-logout',
  { logout_urls: Type.Array(Type.Unsafe<LogoutURL>({ $ref: '#/components/schemas/LogoutURL' })) },
  'Challenge for iframe logout',
);
export type IframeLogoutChallenge = Static<typeof IframeLogoutChallenge>;

export const IframeLogoutChallengeResponseRequest = responseSchema('ak-provider-iframe-logout', {}, 'Response for iframe logout');

export const iframeLogoutChallenges: ChallengeDef[] = [
  {
    component: 'ak-provider-iframe-logout',
    challenge: { name: 'IframeLogoutChallenge', schema: IframeLogoutChallenge },
    response: { name: 'IframeLogoutChallengeResponseRequest', schema: IframeLogoutChallengeResponseRequest },
    parts: [{ name: 'LogoutURL', schema: LogoutURL }],
  },
];
