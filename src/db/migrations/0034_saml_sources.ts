import type { CreateTableBuilder, Kysely } from 'kysely';
import { addColumns, fk, type VersionedMigration } from '../ddl.js';

/**
 * authentik's SAMLSource: its settings beside the base source row, and the responses it has accepted (each is taken
 * once, on any node, until it expires).
 */
export const m0034_saml_sources: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema
        .createTable('saml_sources')
        .addColumn('source_uuid', 'text', (c) => c.primaryKey().references('sources.source_uuid').onDelete('cascade')),
      dialect,
      {
        group_matching_mode: 'text',
        pre_authentication_flow: fk('flows', 'flow_uuid'),
        issuer_override: 'text',
        sso_url: 'text',
        slo_url: { type: 'text' },
        allow_idp_initiated: 'bool',
        force_authn: 'bool',
        name_id_policy: 'text',
        binding_type: 'text',
        verification_kp: fk('crypto_certificatekeypairs', 'kp_uuid'),
        signing_kp: fk('crypto_certificatekeypairs', 'kp_uuid'),
        digest_algorithm: 'text',
        signature_algorithm: 'text',
        temporary_user_delete_after: 'text',
        encryption_kp: fk('crypto_certificatekeypairs', 'kp_uuid'),
        signed_assertion: 'bool',
        signed_response: 'bool',
      },
    ).execute();
    await (
      addColumns(db.schema.createTable('saml_seen_responses'), dialect, {
        source_uuid: { type: 'uuid', notNull: true, ref: { table: 'sources', column: 'source_uuid', onDelete: 'cascade' } },
        response_id: { type: 'text', notNull: true },
        expires: { type: 'datetime', notNull: true },
      }) as CreateTableBuilder<string, any>
    )
      .addPrimaryKeyConstraint('saml_seen_responses_pk', ['source_uuid', 'response_id'])
      .execute();
    await db.schema.createIndex('saml_seen_responses_expires').on('saml_seen_responses').column('expires').execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('saml_seen_responses').ifExists().execute();
    await db.schema.dropTable('saml_sources').ifExists().execute();
  },
});
