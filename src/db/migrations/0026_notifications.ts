import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's notifications: transports (how a notification leaves: local, webhook, Slack webhook, e-mail), rules
 * (a policy-binding target: when an event passes its policies, who is notified, how, with which severity) and the
 * notifications people read. A notification keeps its event's uuid without a foreign key: events expire.
 */
export const m0026_notifications: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('notification_transports').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true, unique: true },
        mode: 'text',
        webhook_url: 'text',
        webhook_ca: { type: 'uuid', ref: { table: 'crypto_certificatekeypairs', column: 'kp_uuid', onDelete: 'set null' } },
        webhook_mapping_body: { type: 'uuid', ref: { table: 'property_mappings', column: 'pm_uuid', onDelete: 'set null' } },
        webhook_mapping_headers: { type: 'uuid', ref: { table: 'property_mappings', column: 'pm_uuid', onDelete: 'set null' } },
        email_subject_prefix: 'text',
        email_template: 'text',
        send_once: 'bool',
      },
    ).execute();
    await addColumns(
      db.schema.createTable('notification_rules').addColumn('pbm_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true, unique: true },
        severity: 'text',
        destination_group: { type: 'uuid', ref: { table: 'groups', column: 'group_uuid', onDelete: 'set null' } },
        destination_event_user: 'bool',
        policy_engine_mode: 'text',
      },
    ).execute();
    await db.schema
      .createTable('notification_rule_transports')
      .addColumn('rule', 'text', (c) => c.notNull().references('notification_rules.pbm_uuid').onDelete('cascade'))
      .addColumn('transport', 'text', (c) => c.notNull().references('notification_transports.uuid').onDelete('cascade'))
      .addPrimaryKeyConstraint('notification_rule_transports_pk', ['rule', 'transport'])
      .execute();
    await addColumns(
      db.schema.createTable('notifications').addColumn('uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        severity: 'text',
        body: 'text',
        created: 'datetime',
        event_uuid: { type: 'uuid' },
        seen: 'bool',
        hyperlink: { type: 'text' },
        hyperlink_label: { type: 'text' },
      },
    ).execute();
    await db.schema.createIndex('notifications_user').on('notifications').columns(['user_id', 'created']).execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['notifications', 'notification_rule_transports', 'notification_rules', 'notification_transports'])
      await db.schema.dropTable(t).execute();
  },
});
