import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * The node running a task (`tasks.worker_id`, a `task_workers` id; null while queued): a task still `running` whose
 * node stopped beating is ended as failed by the others (src/tasks/queue.ts `endOrphanedTasks`).
 */
export const m0042_task_worker: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema.alterTable('tasks').addColumn('worker_id', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('tasks').dropColumn('worker_id').execute();
  },
});
