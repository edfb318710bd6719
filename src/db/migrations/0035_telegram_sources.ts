import type { Kysely } from 'kysely';
import { addColumns, fk, type VersionedMigration } from '../ddl.js';

/** authentik's TelegramSource: its bot (the token sealed at rest) beside the base source row. */
export const m0035_telegram_sources: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema
        .createTable('telegram_sources')
        .addColumn('source_uuid', 'text', (c) => c.primaryKey().references('sources.source_uuid').onDelete('cascade')),
      dialect,
      {
        group_matching_mode: 'text',
        bot_username: 'text',
        bot_token: 'text',
        request_message_access: 'bool',
        pre_authentication_flow: fk('flows', 'flow_uuid'),
      },
    ).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('telegram_sources').ifExists().execute();
  },
});
