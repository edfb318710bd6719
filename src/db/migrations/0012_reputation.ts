import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../ddl.js';

/**
 * Reputation scores (authentik's `Reputation`): one row per (identifier, IP), raised by logins and lowered by failed
 * ones (src/auth/reputation.ts), read by reputation policies. Not a configuration table (its name does not start
 * with `policy_`): scores change on every login and must not move the configuration epoch.
 */
export const m0012_reputation: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema.createTable('reputation_scores').addColumn('reputation_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        identifier: 'text',
        ip: 'text',
        ip_geo_data: 'json',
        ip_asn_data: 'json',
        score: 'int',
        updated: 'datetime',
        expires: { type: 'datetime' },
        expiring: 'bool',
      },
    ).execute();
    // authentik's unique_together (identifier, ip): the key of the login-time upsert
    await db.schema.createIndex('reputation_scores_identifier_ip').on('reputation_scores').columns(['identifier', 'ip']).unique().execute();
    await db.schema.createIndex('reputation_scores_ip').on('reputation_scores').column('ip').execute();
    await db.schema.createIndex('reputation_scores_expires').on('reputation_scores').column('expires').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('reputation_scores').ifExists().execute();
  },
});
