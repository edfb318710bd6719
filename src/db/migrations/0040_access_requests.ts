import type { Kysely } from 'kysely';
import { addColumns, fk, type VersionedMigration } from '../ddl.js';

/**
 * authentik's access requests (src/requests/table.ts): request rules and their notification transports, rule bindings
 * to applications and child bindings to their entitlements, grant requests with their targets and approvals.
 * Each goes with what it belongs to; a grant's policy binding, once swept, leaves the request's target in place.
 */
export const m0040_access_requests: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    const user = (onDelete: 'cascade' | 'set null', notNull = false) =>
      ({ type: 'int', notNull, ref: { table: 'users', column: 'id', onDelete } }) as const;
    await addColumns(
      db.schema.createTable('request_rules').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        pbm_uuid: { type: 'uuid', notNull: true, unique: true },
        name: 'text',
        policy_engine_mode: 'text',
        notification_mode: 'text',
        min_reviewers: 'int',
        min_reviewers_is_per_group: 'bool',
        request_flow: fk('flows', 'flow_uuid'),
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
    await addColumns(db.schema.createTable('request_rule_transports'), dialect, {
      rule: { type: 'uuid', notNull: true, ref: { table: 'request_rules', column: 'uuid', onDelete: 'cascade' } },
      transport: { type: 'uuid', notNull: true, ref: { table: 'notification_transports', column: 'uuid', onDelete: 'cascade' } },
    }).execute();
    await db.schema
      .createIndex('request_rule_transports_unique')
      .on('request_rule_transports')
      .columns(['rule', 'transport'])
      .unique()
      .execute();
    await addColumns(
      db.schema.createTable('request_rule_bindings').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        pbm_uuid: { type: 'uuid', notNull: true, unique: true },
        rule: { type: 'uuid', notNull: true, ref: { table: 'request_rules', column: 'uuid', onDelete: 'cascade' } },
        target: { type: 'uuid', notNull: true, ref: { table: 'applications', column: 'pbm_uuid', onDelete: 'cascade' } },
        policy_engine_mode: 'text',
        expiry_pending: 'text',
        expiry_granted_max: 'text',
      },
    ).execute();
    await db.schema.createIndex('request_rule_bindings_target').on('request_rule_bindings').column('target').execute();
    await addColumns(
      db.schema.createTable('request_rule_child_bindings').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        binding: { type: 'uuid', notNull: true, ref: { table: 'request_rule_bindings', column: 'uuid', onDelete: 'cascade' } },
        target: { type: 'uuid', notNull: true, ref: { table: 'application_entitlements', column: 'pbm_uuid', onDelete: 'cascade' } },
      },
    ).execute();
    await db.schema
      .createIndex('request_rule_child_bindings_unique')
      .on('request_rule_child_bindings')
      .columns(['binding', 'target'])
      .unique()
      .execute();
    await addColumns(
      db.schema.createTable('grant_requests').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        created_by: user('cascade', true),
        fulfilled_by: user('set null'),
        revoked_by: user('set null'),
        requester_data: 'json',
        fulfiller_data: 'json',
        status: 'text',
        requested_expiry: 'text',
        expiring: 'bool',
        expires: { type: 'datetime' },
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
    await db.schema.createIndex('grant_requests_status').on('grant_requests').columns(['status', 'created']).execute();
    await addColumns(
      db.schema.createTable('grant_request_targets').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        request: { type: 'uuid', notNull: true, ref: { table: 'grant_requests', column: 'uuid', onDelete: 'cascade' } },
        target: 'uuid',
        binding: { type: 'uuid', ref: { table: 'policy_bindings', column: 'policy_binding_uuid', onDelete: 'set null' } },
      },
    ).execute();
    await db.schema.createIndex('grant_request_targets_request').on('grant_request_targets').column('request').execute();
    await db.schema.createIndex('grant_request_targets_target').on('grant_request_targets').column('target').execute();
    await addColumns(
      db.schema.createTable('grant_request_approvals').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        request: { type: 'uuid', notNull: true, ref: { table: 'grant_requests', column: 'uuid', onDelete: 'cascade' } },
        reviewer: user('cascade', true),
        status: 'text',
        attributes: 'json',
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
    await db.schema
      .createIndex('grant_request_approvals_unique')
      .on('grant_request_approvals')
      .columns(['request', 'reviewer'])
      .unique()
      .execute();
  },
  async down(db: Kysely<any>) {
    for (const t of [
      'grant_request_approvals',
      'grant_request_targets',
      'grant_requests',
      'request_rule_child_bindings',
      'request_rule_bindings',
      'request_rule_transports',
      'request_rules',
    ])
      await db.schema.dropTable(t).ifExists().execute();
  },
});
