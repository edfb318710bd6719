/** authentik's PlexSourceSerializer fields (beyond the base Source's). */
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { S, type Props } from '../../rest/schema.js';
import { groupMatchingModeProp } from '../schema.js';

export const plexSourceProps: Props = {
  group_matching_mode: groupMatchingModeProp,
  client_id: S.str({ description: 'Client identifier used to talk to Plex.', 'x-optional': true }),
  allowed_servers: S.list(Type.String({ minLength: 1 }), {
    default: [],
    description: 'Which servers a user has to be a member of to be granted access. Empty list allows every server.',
  }),
  allow_friends: S.bool({ default: true, description: "Allow friends to authenticate, even if you don't share a server." }),
  // (read back as "", never the token; "" sent back keeps it — src/sources/plex/resource.ts)
  plex_token: S.text({ description: 'Plex token used to check friends', 'x-no-trim': true }),
};

export const PLEX_COLUMNS = Object.keys(plexSourceProps);

/** authentik's generate_id for a new source's client identifier */
export const newClientId = () => randomBytes(30).toString('base64url').slice(0, 40);
