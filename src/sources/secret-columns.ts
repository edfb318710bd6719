/** The sources' columns holding secrets, sealed at rest (src/instance/secrets.ts). */
import type { SecretColumn } from '../instance/secrets.js';

export const sourceSecretColumns: SecretColumn[] = [
  { table: 'oauth_sources', pk: 'source_uuid', column: 'consumer_secret' },
  { table: 'user_source_connections', pk: 'id', column: 'access_token' },
  { table: 'telegram_sources', pk: 'source_uuid', column: 'bot_token' },
  { table: 'plex_sources', pk: 'source_uuid', column: 'plex_token' },
];
