/** A Telegram source's row (base and own settings), by uuid or slug. */
import type { DB } from '../../db/index.js';
import type { SourcesTable } from '../table.js';
import type { TelegramSourcesTable } from './table.js';

export type TelegramSource = SourcesTable & TelegramSourcesTable;

export const BOT_TOKEN_FIELD = 'telegram_sources.bot_token';
export const TELEGRAM_KIND = 'telegramsource';

const select = (db: DB) =>
  db
    .selectFrom('sources as s')
    .innerJoin('telegram_sources as t', 't.source_uuid', 's.source_uuid')
    .selectAll('s')
    .selectAll('t')
    .where('s.kind', '=', TELEGRAM_KIND);

export const telegramSourceByUuid = async (db: DB, uuid: string) =>
  (await select(db).where('s.source_uuid', '=', uuid).executeTakeFirst()) as TelegramSource | undefined;

export const telegramSourceBySlug = async (db: DB, slug: string) =>
  (await select(db).where('s.slug', '=', slug).executeTakeFirst()) as TelegramSource | undefined;

/** authentik's TelegramSource.get_base_user_properties */
export function telegramBaseProperties(info: { first_name?: string; last_name?: string; username?: string }): Record<string, unknown> {
  let name = info.first_name ?? '';
  if (info.last_name !== undefined) name += ` ${info.last_name}`;
  return { username: info.username ?? null, email: null, name: name || null };
}
