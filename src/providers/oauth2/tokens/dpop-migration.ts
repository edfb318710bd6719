/**
 * provider_oauth2_0005: DPoP (RFC 9449). Codes, access and refresh tokens bound to a key keep its thumbprint
 * (`dpop_jkt`); `oauth2_dpop_jtis` holds the SHA-256 of each proof's `jti` until the replay window is over, so a proof
 * is used once across all nodes (an INSERT that finds the row: a replay).
 */
import type { Kysely } from 'kysely';
import { addColumns, type VersionedMigration } from '../../../db/ddl.js';

const BOUND = ['oauth2_authorization_codes', 'oauth2_access_tokens', 'oauth2_refresh_tokens'];

export const provider_oauth2_0005: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    for (const t of BOUND) await db.schema.alterTable(t).addColumn('dpop_jkt', 'text').execute();
    await addColumns(
      db.schema.createTable('oauth2_dpop_jtis').addColumn('jti_hash', 'text', (c) => c.primaryKey()),
      dialect,
      {
        expires: 'datetime',
      },
    ).execute();
    await db.schema.createIndex('oauth2_dpop_jtis_expires').on('oauth2_dpop_jtis').column('expires').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('oauth2_dpop_jtis').ifExists().execute();
    for (const t of BOUND) await db.schema.alterTable(t).dropColumn('dpop_jkt').execute();
  },
});
