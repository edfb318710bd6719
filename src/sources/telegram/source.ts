/** A Telegram source's row (base and own settings), by uuid or slug. */
import type { DB } from '../../db/index.js';
import type { SourcesTable } from '../table.js';
import type { TelegramSourcesTable } from './table.js';
import { typedSourceRow } from '../rows.js';

export type TelegramSource = SourcesTable & TelegramSourcesTable;

export const BOT_TOKEN_FIELD = 'telegram_sources.bot_token';
export const TELEGRAM_KIND = 'telegramsource';

export const telegramSourceByUuid = (db: DB, uuid: string) =>
  typedSourceRow<TelegramSource>(db, TELEGRAM_KIND, 'telegram_sources', { uuid });

export const telegramSourceBySlug = (db: DB, slug: string) =>
  typedSourceRow<TelegramSource>(db, TELEGRAM_KIND, 'telegram_sources', { slug });

/** authentik's TelegramSource.get_base_user_properties */
export function telegramBaseProperties(info: { first_name?: string; last_name?: string; username?: string }): Record<string, unknown> {
  let name = info.first_name ?? '';
  if (info.last_name !== undefined) name += ` ${info.last_name}`;
  return { username: info.username ?? null, email: null, name: name || null };
}
