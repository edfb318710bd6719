import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/** authentik's Event.brand: the brand of the request an event came from (JSON; `{}` for events without a request). */
export const m0038_event_brand: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('events')
      .addColumn('brand', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
  },
});
