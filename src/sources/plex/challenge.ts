/**
 * The Plex source's login button (authentik's PlexAuthenticationChallenge, `ak-source-plex`): the login page asks
 * plex.tv for a token itself (a PIN the person approves in Plex's window) and redeems it at
 * /sources/plex/redeem_token/?slug=….
 */
import { Type, type Static } from '@sinclair/typebox';
import { challengeSchema } from '../../flows/engine/challenge-types.js';

export const PlexAuthenticationChallenge = challengeSchema(
  'ak-source-plex',
  { client_id: Type.String(), slug: Type.String() },
  'Challenge shown to the user in identification stage',
);
export type PlexAuthenticationChallenge = Static<typeof PlexAuthenticationChallenge>;
