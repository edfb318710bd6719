import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * Flow tokens (authentik's FlowToken): a flow plan saved under a single-use, expiring key that a link carries
 * (`?flow_token=`), so the plan continues in whichever browser opens the link — e-mail verification and recovery
 * links. Only the key's SHA-256 is stored. Not a configuration table: it changes on logins.
 */
export const m0018_flow_tokens: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await (
      addColumns(db.schema.createTable('flow_tokens'), dialect, {
        id: 'text',
        key_hash: { type: 'text', notNull: true, unique: true },
        identifier: 'text',
        flow_uuid: { type: 'uuid', notNull: true, ref: { table: 'flows', column: 'flow_uuid', onDelete: 'cascade' } },
        user_id: { type: 'int', ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        plan: 'json',
        revoke_on_execution: 'bool',
        expires: 'datetime',
        created: 'datetime',
      }) as any
    )
      .addPrimaryKeyConstraint('flow_tokens_pk', ['id'])
      .execute();
    await db.schema.createIndex('flow_tokens_expires').on('flow_tokens').column('expires').execute();
    await db.schema.createIndex('flow_tokens_identifier').on('flow_tokens').column('identifier').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('flow_tokens').ifExists().execute();
  },
});
