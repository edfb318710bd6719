import { type Kysely, sql } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's user offboarding (src/lifecycle/offboarding/): a user's deactivation or deletion scheduled for a time,
 * kept as a record once done or cancelled; at most one pending per user (a partial unique index, as authentik's).
 */
export const m0044_user_offboardings: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('user_offboardings').addColumn('id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        scheduled_at: 'datetime',
        action: 'text',
        revoke_sessions: 'bool',
        revoke_tokens: 'bool',
        status: 'text',
        created_by: { type: 'int', ref: { table: 'users', column: 'id', onDelete: 'set null' } },
        created_at: 'datetime',
        executed_at: { type: 'datetime' },
        started_at: { type: 'datetime' },
        attempts: 'int',
      },
    ).execute();
    await db.schema
      .createIndex('user_offboardings_one_pending')
      .on('user_offboardings')
      .column('user_id')
      .unique()
      .where(sql.ref('status'), '=', 'pending')
      .execute();
    await db.schema
      .createIndex('user_offboardings_pending_due')
      .on('user_offboardings')
      .column('scheduled_at')
      .where(sql.ref('status'), '=', 'pending')
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('user_offboardings').ifExists().execute();
  },
});
