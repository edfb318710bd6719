import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * Policies (one base row per policy; each type keeps its own settings in `policy_<type>`, created by the type's own
 * migration) and policy bindings: a policy, a group or a user bound to a policy-binding target — a flow or a
 * flow-stage binding now, an application later — by that target's `pbm_uuid`.
 */
export const m0011_policies: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('policies').addColumn('policy_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true, unique: true },
        kind: 'text',
        execution_logging: 'bool',
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
    await db.schema.createIndex('policies_kind').on('policies').column('kind').execute();
    await addColumns(
      db.schema.createTable('policy_bindings').addColumn('policy_binding_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        target: 'uuid',
        policy: { type: 'uuid', ref: { table: 'policies', column: 'policy_uuid', onDelete: 'cascade' } },
        group: { type: 'uuid', ref: { table: 'groups', column: 'group_uuid', onDelete: 'cascade' } },
        user: { type: 'int', ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        negate: 'bool',
        enabled: 'bool',
        order: 'int',
        timeout: 'int',
        failure_result: 'bool',
      },
    ).execute();
    // authentik's unique_together (policy, target, order); rows without a policy (group and user bindings) never clash
    await db.schema.createIndex('policy_bindings_unique').on('policy_bindings').columns(['policy', 'target', 'order']).unique().execute();
    await db.schema.createIndex('policy_bindings_target').on('policy_bindings').column('target').execute();
    await db.schema.createIndex('policy_bindings_group').on('policy_bindings').column('group').execute();
    await db.schema.createIndex('policy_bindings_user').on('policy_bindings').column('user').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('policy_bindings').ifExists().execute();
    await db.schema.dropTable('policies').ifExists().execute();
  },
});
