import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * authentik's tasks (src/tasks/): schedules (a crontab per actor, paused or not, the next run every node compares
 * and advances at once), the tasks they and the API queue (state, logs, retries) and the nodes that run them.
 */
export const m0041_tasks: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('task_schedules').addColumn('id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        identifier: { type: 'text', unique: true },
        uid_suffix: { type: 'text' },
        actor_name: { type: 'text', notNull: true },
        rel_obj_app_label: { type: 'text' },
        rel_obj_model: { type: 'text' },
        rel_obj_id: { type: 'text' },
        crontab: { type: 'text', notNull: true },
        paused: 'bool',
        next_run: { type: 'datetime', notNull: true },
      },
    ).execute();
    await db.schema.createIndex('task_schedules_next_run').on('task_schedules').columns(['paused', 'next_run']).execute();
    await addColumns(
      db.schema.createTable('tasks').addColumn('message_id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        queue_name: 'text',
        actor_name: { type: 'text', notNull: true },
        state: { type: 'text', notNull: true },
        mtime: { type: 'datetime', notNull: true },
        retries: 'int',
        eta: { type: 'datetime' },
        rel_obj_app_label: { type: 'text' },
        rel_obj_model: { type: 'text' },
        rel_obj_id: { type: 'text' },
        uid: 'text',
        logs: 'json',
        previous_logs: 'json',
        aggregated_status: { type: 'text', notNull: true },
        schedule_id: { type: 'text', ref: { table: 'task_schedules', column: 'id', onDelete: 'set null' } },
      },
    ).execute();
    await db.schema.createIndex('tasks_state').on('tasks').columns(['state', 'mtime']).execute();
    await db.schema.createIndex('tasks_schedule').on('tasks').columns(['schedule_id', 'mtime']).execute();
    await addColumns(
      db.schema.createTable('task_workers').addColumn('worker_id', 'text', (c) => c.primaryKey()),
      dialect,
      {
        version: 'text',
        last_seen: { type: 'datetime', notNull: true },
      },
    ).execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['tasks', 'task_workers', 'task_schedules']) await db.schema.dropTable(t).ifExists().execute();
  },
});
