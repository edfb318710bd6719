import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's object lifecycle management (src/lifecycle/review/): rules scheduling access reviews of applications,
 * groups and roles, with their reviewers, reviewer groups and notification transports; the iterations (one review
 * round of one object under one rule) and the reviews given in them, one per reviewer.
 */
export const m0045_lifecycle_reviews: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('lifecycle_rules').addColumn('id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true, unique: true },
        content_type: 'text',
        object_id: { type: 'text' },
        interval: 'text',
        grace_period: 'text',
        min_reviewers: 'int',
        min_reviewers_is_per_group: 'bool',
      },
    ).execute();
    const rule = { type: 'uuid', notNull: true, ref: { table: 'lifecycle_rules', column: 'id', onDelete: 'cascade' } } as const;
    await addColumns(db.schema.createTable('lifecycle_rule_reviewer_groups'), dialect, {
      rule,
      group_uuid: { type: 'uuid', notNull: true, ref: { table: 'groups', column: 'group_uuid', onDelete: 'cascade' } },
    }).execute();
    await addColumns(db.schema.createTable('lifecycle_rule_reviewers'), dialect, {
      rule,
      user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
    }).execute();
    await addColumns(db.schema.createTable('lifecycle_rule_transports'), dialect, {
      rule,
      transport: { type: 'uuid', notNull: true, ref: { table: 'notification_transports', column: 'uuid', onDelete: 'cascade' } },
    }).execute();
    for (const [table, column] of [
      ['lifecycle_rule_reviewer_groups', 'group_uuid'],
      ['lifecycle_rule_reviewers', 'user_id'],
      ['lifecycle_rule_transports', 'transport'],
    ] as const)
      await db.schema.createIndex(`${table}_unique`).on(table).columns(['rule', column]).unique().execute();
    await addColumns(
      db.schema.createTable('lifecycle_iterations').addColumn('id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        content_type: 'text',
        object_id: 'text',
        rule: { type: 'uuid', ref: { table: 'lifecycle_rules', column: 'id', onDelete: 'set null' } },
        state: 'text',
        opened_on: 'datetime',
      },
    ).execute();
    await db.schema.createIndex('lifecycle_iterations_object').on('lifecycle_iterations').columns(['content_type', 'object_id']).execute();
    await db.schema.createIndex('lifecycle_iterations_rule').on('lifecycle_iterations').columns(['rule', 'opened_on']).execute();
    await addColumns(
      db.schema.createTable('lifecycle_reviews').addColumn('id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        iteration: { type: 'uuid', notNull: true, ref: { table: 'lifecycle_iterations', column: 'id', onDelete: 'cascade' } },
        reviewer: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        timestamp: 'datetime',
        note: { type: 'text' },
      },
    ).execute();
    await db.schema.createIndex('lifecycle_reviews_unique').on('lifecycle_reviews').columns(['iteration', 'reviewer']).unique().execute();
  },
  async down(db: Kysely<any>) {
    for (const t of [
      'lifecycle_reviews',
      'lifecycle_iterations',
      'lifecycle_rule_transports',
      'lifecycle_rule_reviewers',
      'lifecycle_rule_reviewer_groups',
      'lifecycle_rules',
    ])
      await db.schema.dropTable(t).ifExists().execute();
  },
});
