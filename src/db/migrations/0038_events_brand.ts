import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * authentik's Event.brand: the brand of the request an event came from (JSON; `{}` for events without a request);
 * and an index for a user's logins, newest first (the GeoIP policy's history: events/logins.ts).
 */
export const m0038_events_brand: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('events')
      .addColumn('brand', 'text', (c) => c.notNull().defaultTo('{}'))
      .execute();
    await db.schema.createIndex('events_username_action').on('events').columns(['username', 'action', 'created']).execute();
  },
});
