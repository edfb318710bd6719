/**
 * Migrations of the grant tables of tokens/table.ts: provider_oauth2_0002 creates them (rows deleted with their
 * provider or user); provider_oauth2_0003 makes the code and session indexes of the token tables partial.
 */
import { type Kysely, sql } from 'kysely';
import { addColumns, type ColumnSpec, tableWithAutoId, type VersionedMigration } from '../../../db/ddl.js';

const provider: ColumnSpec = { type: 'int', notNull: true, ref: { table: 'providers', column: 'id', onDelete: 'cascade' } };
const user: ColumnSpec = { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } };

const grant: Record<string, ColumnSpec> = {
  provider_id: provider,
  user_id: user,
  scope: 'text',
  auth_time: 'datetime',
  session_id: { type: 'text' },
  revoked: 'bool',
  expires: 'datetime',
  expiring: 'bool',
  created: 'datetime',
};

export const provider_oauth2_0002: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(tableWithAutoId(db, dialect, 'oauth2_authorization_codes'), dialect, {
      ...grant,
      code_hash: { type: 'text', notNull: true, unique: true },
      nonce: { type: 'text' },
      code_challenge: { type: 'text' },
      code_challenge_method: { type: 'text' },
      redirect_uri: 'text',
      amr: { type: 'json' },
      redeemed_at: { type: 'datetime' },
    }).execute();
    await addColumns(tableWithAutoId(db, dialect, 'oauth2_access_tokens'), dialect, {
      ...grant,
      token_hash: { type: 'text', notNull: true, unique: true },
      id_token: 'text',
      code_id: { type: 'int' },
    }).execute();
    await addColumns(tableWithAutoId(db, dialect, 'oauth2_refresh_tokens'), dialect, {
      ...grant,
      token_hash: { type: 'text', notNull: true, unique: true },
      id_token: 'text',
      code_id: { type: 'int' },
    }).execute();
    await addColumns(tableWithAutoId(db, dialect, 'oauth2_device_tokens'), dialect, {
      provider_id: provider,
      user_id: { type: 'int', ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
      device_code_hash: { type: 'text', notNull: true, unique: true },
      user_code: 'text',
      scope: 'text',
      session_id: { type: 'text' },
      expires: 'datetime',
      expiring: 'bool',
      created: 'datetime',
    }).execute();
    for (const t of ['oauth2_authorization_codes', 'oauth2_access_tokens', 'oauth2_refresh_tokens', 'oauth2_device_tokens']) {
      await db.schema.createIndex(`${t}_expires`).on(t).column('expires').execute();
      await db.schema.createIndex(`${t}_provider_user`).on(t).columns(['provider_id', 'user_id']).execute();
    }
    for (const t of ['oauth2_access_tokens', 'oauth2_refresh_tokens']) {
      await db.schema.createIndex(`${t}_code`).on(t).column('code_id').execute();
      await db.schema.createIndex(`${t}_session`).on(t).column('session_id').execute();
    }
    await db.schema.createIndex('oauth2_device_tokens_user_code').on('oauth2_device_tokens').column('user_code').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['oauth2_device_tokens', 'oauth2_refresh_tokens', 'oauth2_access_tokens', 'oauth2_authorization_codes'])
      await db.schema.dropTable(t).ifExists().execute();
  },
});

/**
 * provider_oauth2_0003: a token issued without an authorization code (client_credentials, password, device code) or
 * without a session (client_credentials) has no entry in the `_code` and `_session` indexes, so issuing it writes two
 * B-trees less. The lookups (`code_id = ?`, `session_id = ?`) imply IS NOT NULL, so both databases still use them.
 */
export const provider_oauth2_0003: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    for (const t of ['oauth2_access_tokens', 'oauth2_refresh_tokens']) {
      for (const column of ['code_id', 'session_id']) {
        const name = `${t}_${column === 'code_id' ? 'code' : 'session'}`;
        await db.schema.dropIndex(name).execute();
        await db.schema.createIndex(name).on(t).column(column).where(sql.ref(column), 'is not', null).execute();
      }
    }
  },
  async down(db: Kysely<any>) {
    for (const t of ['oauth2_access_tokens', 'oauth2_refresh_tokens']) {
      for (const column of ['code_id', 'session_id']) {
        const name = `${t}_${column === 'code_id' ? 'code' : 'session'}`;
        await db.schema.dropIndex(name).execute();
        await db.schema.createIndex(name).on(t).column(column).execute();
      }
    }
  },
});
