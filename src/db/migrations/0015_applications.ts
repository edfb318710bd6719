import type { Kysely } from 'kysely';
import { addColumns, tableWithAutoId, type VersionedMigration } from '../ddl.js';

/**
 * Applications and what they are built from (authentik's `Application`, `Provider`, `PropertyMapping`,
 * `UserConsent`): one base row per provider (each provider type keeps its settings in `provider_<type>`, created by
 * the type's own migration, keyed by `provider_id`), property mappings (scope mappings' own columns in
 * `property_mapping_scope`), applications (policy-binding targets by `pbm_uuid`, their primary key as in authentik)
 * and the consents people gave them. `user_consents` changes on logins and is not a configuration table.
 */
export const m0015_applications: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    const flowRef = (onDelete: 'cascade' | 'set null') => ({
      type: 'uuid' as const,
      ref: { table: 'flows', column: 'flow_uuid', onDelete },
    });
    await addColumns(tableWithAutoId(db, dialect, 'providers'), dialect, {
      name: { type: 'text', notNull: true, unique: true },
      /** lowercase model name: `oauth2provider` */
      kind: 'text',
      authentication_flow: flowRef('set null'),
      // authentik: deleting the authorization flow deletes the provider (on_delete=CASCADE)
      authorization_flow: flowRef('cascade'),
      invalidation_flow: flowRef('set null'),
      created: 'datetime',
      last_updated: 'datetime',
    }).execute();
    await db.schema.createIndex('providers_kind').on('providers').column('kind').execute();

    await addColumns(
      db.schema.createTable('property_mappings').addColumn('pm_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: { type: 'text', notNull: true, unique: true },
        expression: 'text',
        managed: { type: 'text', unique: true },
        /** lowercase model name: `scopemapping` */
        kind: 'text',
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
    await db.schema
      .createTable('property_mapping_scope')
      .addColumn('pm_uuid', 'text', (c) => c.primaryKey().references('property_mappings.pm_uuid').onDelete('cascade'))
      .addColumn('scope_name', 'text', (c) => c.notNull())
      .addColumn('description', 'text', (c) => c.notNull())
      .execute();
    await db.schema
      .createTable('provider_property_mappings')
      .addColumn('provider_id', 'integer', (c) => c.notNull().references('providers.id').onDelete('cascade'))
      .addColumn('pm_uuid', 'text', (c) => c.notNull().references('property_mappings.pm_uuid').onDelete('cascade'))
      .addPrimaryKeyConstraint('provider_property_mappings_pk', ['provider_id', 'pm_uuid'])
      .execute();
    await db.schema.createIndex('provider_property_mappings_pm').on('provider_property_mappings').column('pm_uuid').execute();

    await addColumns(
      db.schema.createTable('applications').addColumn('pbm_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        name: 'text',
        slug: { type: 'text', notNull: true, unique: true },
        // one application per provider (authentik's OneToOneField, on_delete=SET_NULL)
        provider: { type: 'int', unique: true, ref: { table: 'providers', column: 'id', onDelete: 'set null' } },
        meta_launch_url: 'text',
        meta_icon: 'text',
        meta_description: 'text',
        meta_publisher: 'text',
        meta_hide: 'bool',
        open_in_new_tab: 'bool',
        group: 'text',
        policy_engine_mode: 'text',
        created: 'datetime',
        last_updated: 'datetime',
      },
    ).execute();
    // authentik's Provider.backchannel_application (a provider is a backchannel provider of one application at most)
    await db.schema
      .createTable('application_backchannel_providers')
      .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade'))
      .addColumn('application', 'text', (c) => c.notNull().references('applications.pbm_uuid').onDelete('cascade'))
      .execute();
    await db.schema
      .createIndex('application_backchannel_providers_app')
      .on('application_backchannel_providers')
      .column('application')
      .execute();

    await addColumns(tableWithAutoId(db, dialect, 'user_consents'), dialect, {
      user: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
      application: { type: 'uuid', notNull: true, ref: { table: 'applications', column: 'pbm_uuid', onDelete: 'cascade' } },
      expires: { type: 'datetime' },
      expiring: 'bool',
      permissions: 'text',
    }).execute();
    await db.schema
      .createIndex('user_consents_unique')
      .on('user_consents')
      .columns(['user', 'application', 'permissions'])
      .unique()
      .execute();
    await db.schema.createIndex('user_consents_application').on('user_consents').column('application').execute();
  },
  async down(db: Kysely<any>) {
    for (const t of [
      'user_consents',
      'application_backchannel_providers',
      'applications',
      'provider_property_mappings',
      'property_mapping_scope',
      'property_mappings',
      'providers',
    ])
      await db.schema.dropTable(t).ifExists().execute();
  },
});
