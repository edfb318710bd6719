import type { Kysely } from 'kysely';
import { addColumns, fk, type VersionedMigration } from '../ddl.js';

/**
 * authentik's LDAPSource: its settings beside the base source row, what its last connectivity check found, and the
 * state of its synchronisation (one node syncs a source at a time: `sync_claimed_until` is taken by a conditional
 * UPDATE). A user's or group's connection remembers the sync that last saw it (`validated_by`), so that
 * `delete_not_found_objects` can remove what the directory no longer has.
 */
export const m0032_ldap_sources: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    await addColumns(
      db.schema
        .createTable('ldap_sources')
        .addColumn('source_uuid', 'text', (c) => c.primaryKey().references('sources.source_uuid').onDelete('cascade')),
      dialect,
      {
        server_uri: 'text',
        peer_certificate: fk('crypto_certificatekeypairs', 'kp_uuid'),
        client_certificate: fk('crypto_certificatekeypairs', 'kp_uuid'),
        bind_cn: 'text',
        bind_password: 'text',
        start_tls: 'bool',
        sni: 'bool',
        base_dn: 'text',
        additional_user_dn: 'text',
        additional_group_dn: 'text',
        user_object_filter: 'text',
        group_object_filter: 'text',
        group_membership_field: 'text',
        user_membership_attribute: 'text',
        object_uniqueness_field: 'text',
        password_login_update_internal_password: 'bool',
        sync_users: 'bool',
        sync_users_password: 'bool',
        sync_groups: 'bool',
        sync_parent_group: fk('groups', 'group_uuid'),
        lookup_groups_from_user: 'bool',
        delete_not_found_objects: 'bool',
        sync_outgoing_trigger_mode: 'text',
        sync_group_hierarchy: 'bool',
        connectivity: { type: 'json' },
        connectivity_checked: { type: 'datetime' },
        sync_claimed_until: { type: 'datetime' },
        sync_requested: { type: 'datetime' },
        last_sync_started: { type: 'datetime' },
        last_successful_sync: { type: 'datetime' },
        last_sync_status: { type: 'text' },
        last_sync_messages: { type: 'json' },
      },
    ).execute();
    for (const t of ['user_source_connections', 'group_source_connections'])
      await db.schema.alterTable(t).addColumn('validated_by', 'text').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of ['user_source_connections', 'group_source_connections'])
      await db.schema.alterTable(t).dropColumn('validated_by').execute();
    await db.schema.dropTable('ldap_sources').ifExists().execute();
  },
});
