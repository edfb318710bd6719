import type { Kysely } from 'kysely';
import { addColumns, tableWithAutoId, type VersionedMigration } from '../ddl.js';

/**
 * Password history (authentik's `UserPasswordHistory`): the hashes a user's password was set to, kept while a
 * password uniqueness policy is bound somewhere (src/auth/password-history.ts), deleted with the user.
 */
export const m0013_password_history: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(tableWithAutoId(db, dialect, 'user_password_history'), dialect, {
      user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
      old_password: 'text',
      created_at: 'datetime',
    }).execute();
    await db.schema.createIndex('user_password_history_user').on('user_password_history').columns(['user_id', 'created_at']).execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('user_password_history').ifExists().execute();
  },
});
