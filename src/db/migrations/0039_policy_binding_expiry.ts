import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';

/**
 * authentik's PolicyBinding is an ExpiringModel: `expiring` (0/1, default 0) and `expires` (an ISO timestamp as text,
 * as every table here keeps them; null: none). A binding with `expiring` whose `expires` has come no longer applies
 * (src/policies/bindings/expiry.ts) and is deleted by the hourly housekeeping. Existing bindings never expire.
 */
export const m0039_policy_binding_expiry: VersionedMigration = () => ({
  async up(db: Kysely<any>) {
    await db.schema
      .alterTable('policy_bindings')
      .addColumn('expiring', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('policy_bindings').addColumn('expires', 'text').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.alterTable('policy_bindings').dropColumn('expires').execute();
    await db.schema.alterTable('policy_bindings').dropColumn('expiring').execute();
  },
});
