/** The Plex source's table (migration 0036). */

/** authentik's PlexSource settings beside the base source row; the owner's Plex token sealed at rest */
export interface PlexSourcesTable {
  source_uuid: string;
  group_matching_mode: string;
  client_id: string;
  /** JSON: the servers' client identifiers */
  allowed_servers: string;
  allow_friends: number | boolean;
  plex_token: string;
}

declare module '../../db/types.js' {
  interface Database {
    plex_sources: PlexSourcesTable;
  }
}
