/** The Telegram source's table (migration 0035). */

/** authentik's TelegramSource settings beside the base source row; the bot token sealed at rest */
export interface TelegramSourcesTable {
  source_uuid: string;
  group_matching_mode: string;
  bot_username: string;
  bot_token: string;
  request_message_access: number | boolean;
  pre_authentication_flow: string | null;
}

declare module '../../db/types.js' {
  interface Database {
    telegram_sources: TelegramSourcesTable;
  }
}
