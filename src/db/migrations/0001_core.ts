import type { Kysely } from 'kysely';
import type { VersionedMigration } from '../ddl.js';
import { addColumns, tableWithAutoId } from '../ddl.js';

export const m0001_core: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    const autoId = (name: string) => tableWithAutoId(db, dialect, name);

    await db.schema
      .createTable('settings')
      .addColumn('key', 'text', (c) => c.primaryKey())
      .addColumn('value', 'text', (c) => c.notNull())
      .execute();

    await addColumns(autoId('users'), dialect, {
      uuid: { type: 'uuid', notNull: true, unique: true },
      username: { type: 'text', notNull: true, unique: true },
      name: 'text',
      email: 'text',
      password: 'text',
      is_active: 'bool',
      last_login: { type: 'datetime' },
      date_joined: 'datetime',
      path: 'text',
      type: 'text',
      attributes: 'json',
      password_change_date: 'datetime',
      last_updated: 'datetime',
    }).execute();

    await addColumns(
      db.schema.createTable('groups').addColumn('group_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        num_pk: { type: 'int', notNull: true, unique: true },
        name: { type: 'text', notNull: true, unique: true },
        is_superuser: 'bool',
        attributes: 'json',
      },
    ).execute();
    await db.schema
      .createTable('user_groups')
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('group_uuid', 'text', (c) => c.notNull().references('groups.group_uuid').onDelete('cascade'))
      .addPrimaryKeyConstraint('user_groups_pk', ['user_id', 'group_uuid'])
      .execute();
    await db.schema
      .createTable('roles')
      .addColumn('role_uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .execute();
    await db.schema
      .createTable('user_roles')
      .addColumn('user_id', 'integer', (c) => c.notNull().references('users.id').onDelete('cascade'))
      .addColumn('role_uuid', 'text', (c) => c.notNull().references('roles.role_uuid').onDelete('cascade'))
      .addPrimaryKeyConstraint('user_roles_pk', ['user_id', 'role_uuid'])
      .execute();

    await (
      addColumns(
        db.schema.createTable('tokens').addColumn('token_uuid', 'text', (c) => c.primaryKey()),
        dialect,
        {
          identifier: { type: 'text', notNull: true, unique: true },
          key: 'text',
          key_hash: { type: 'text', notNull: true, unique: true },
          intent: 'text',
          user_id: 'int',
          description: 'text',
          expires: { type: 'datetime' },
          expiring: 'bool',
          managed: { type: 'text', unique: true },
        },
      ) as any
    )
      .addForeignKeyConstraint('tokens_user_fk', ['user_id'], 'users', ['id'], (c: any) => c.onDelete('cascade'))
      .execute();

    await addColumns(
      db.schema.createTable('flows').addColumn('flow_uuid', 'text', (c) => c.primaryKey()),
      dialect,
      {
        pbm_uuid: { type: 'uuid', notNull: true, unique: true },
        name: 'text',
        slug: { type: 'text', notNull: true, unique: true },
        title: 'text',
        designation: 'text',
        background: 'text',
        policy_engine_mode: 'text',
        compatibility_mode: 'bool',
        layout: 'text',
        denied_action: 'text',
        authentication: 'text',
      },
    ).execute();

    await db.schema
      .createTable('stages')
      .addColumn('stage_uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull().unique())
      .addColumn('kind', 'text', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('stages_kind_name').on('stages').columns(['kind', 'name']).execute();

    await (
      addColumns(
        db.schema.createTable('flow_bindings').addColumn('fsb_uuid', 'text', (c) => c.primaryKey()),
        dialect,
        {
          pbm_uuid: { type: 'uuid', notNull: true, unique: true },
          target: { type: 'uuid', notNull: true, ref: { table: 'flows', column: 'flow_uuid', onDelete: 'cascade' } },
          stage: { type: 'uuid', notNull: true, ref: { table: 'stages', column: 'stage_uuid', onDelete: 'cascade' } },
          evaluate_on_plan: 'bool',
          re_evaluate_policies: 'bool',
          order: 'int',
          policy_engine_mode: 'text',
          invalid_response_action: 'text',
        },
      ) as any
    )
      .addUniqueConstraint('flow_bindings_unique', ['target', 'stage', 'order'])
      .execute();
    await db.schema.createIndex('flow_bindings_stage').on('flow_bindings').column('stage').execute();

    await db.schema
      .createTable('webauthn_device_types')
      .addColumn('aaguid', 'text', (c) => c.primaryKey())
      .addColumn('description', 'text', (c) => c.notNull())
      .addColumn('icon', 'text')
      .execute();

    // the base table of sources (migration 0022 adds authentik's fields and the OAuth type's table)
    await db.schema
      .createTable('sources')
      .addColumn('source_uuid', 'text', (c) => c.primaryKey())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('slug', 'text', (c) => c.notNull().unique())
      .execute();

    await addColumns(
      db.schema.createTable('sessions').addColumn('session_key', 'text', (c) => c.primaryKey()),
      dialect,
      {
        user_id: { type: 'int', ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        data: 'json',
        expires: 'datetime',
        last_ip: 'text',
        last_user_agent: 'text',
        created: 'datetime',
      },
    ).execute();
    await db.schema.createIndex('sessions_user').on('sessions').column('user_id').execute();
  },
  async down() {
    throw new Error('irreversible');
  },
});
