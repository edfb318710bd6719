/**
 * The SCIM provider's tables: its settings (keyed by providers.id), its group filters and group mappings, its sync
 * state, the remote objects it made (authentik's SCIMProviderUser/Group: a local object's SCIM id and what was last
 * written), and the queue of local changes. Triggers on users, groups and memberships append to the queue, one row per
 * SCIM provider, whoever writes (the API, a flow, a source's sync, psql), so every node can push them (scheduler.ts).
 * A user or group deleted leaves its remote objects with a null local key, which the next pass deletes remotely.
 */
import { sql } from 'kysely';
import { addColumns, tableWithAutoId, type VersionedMigration } from '../../db/ddl.js';

/** the users columns whose change is pushed (not the password, last_login or timestamps) */
export const WATCHED_USER_COLUMNS = ['username', 'name', 'email', 'is_active', 'path', 'type', 'attributes', 'uuid'];
const WATCHED_GROUP_COLUMNS = ['name', 'attributes', 'is_superuser'];

const SQLITE_TRIGGERS = (cols: string, gcols: string) => [
  ['scim_user_insert', `AFTER INSERT ON users`, `'user', CAST(NEW.id AS TEXT), NULL`],
  ['scim_user_update', `AFTER UPDATE OF ${cols} ON users`, `'user', CAST(NEW.id AS TEXT), NULL`],
  ['scim_user_delete', `AFTER DELETE ON users`, `'user', CAST(OLD.id AS TEXT), NULL`],
  ['scim_group_insert', `AFTER INSERT ON groups`, `'group', NEW.group_uuid, NULL`],
  ['scim_group_update', `AFTER UPDATE OF ${gcols} ON groups`, `'group', NEW.group_uuid, NULL`],
  ['scim_group_delete', `AFTER DELETE ON groups`, `'group', OLD.group_uuid, NULL`],
  ['scim_member_insert', `AFTER INSERT ON user_groups`, `'member', NEW.group_uuid, CAST(NEW.user_id AS TEXT)`],
  ['scim_member_delete', `AFTER DELETE ON user_groups`, `'member', OLD.group_uuid, CAST(OLD.user_id AS TEXT)`],
];

/**
 * the trigger function; `inhibitable` (since provider_scim_0003): nothing queued in a transaction that inhibits
 * (src/db/outgoing-sync.ts); `skipDeleted` (since provider_scim_0004): a provider whose deletion is under way is
 * waited for and then skipped (FOR KEY SHARE), where the change's insert failed its foreign key once the deletion
 * committed — failing whatever user or group write fired the trigger
 */
const pgFunction = (inhibitable: boolean, skipDeleted = false) => `
create or replace function keystage_scim_change() returns trigger language plpgsql as $$
declare k text; m text; kind text;
begin
  if not exists (select 1 from provider_scim) then return null; end if;${inhibitable ? '\n  if exists (select 1 from outgoing_sync_inhibits) then return null; end if;' : ''}
  if tg_table_name = 'users' then
    kind := 'user';
    if tg_op = 'DELETE' then k := old.id::text; else k := new.id::text; end if;
  elsif tg_table_name = 'groups' then
    kind := 'group';
    if tg_op = 'DELETE' then k := old.group_uuid; else k := new.group_uuid; end if;
  else
    kind := 'member';
    if tg_op = 'DELETE' then k := old.group_uuid; m := old.user_id::text; else k := new.group_uuid; m := new.user_id::text; end if;
  end if;
  insert into scim_changes (provider_id, kind, ref, member) ${
    skipDeleted
      ? 'select s.provider_id, kind, k, m from provider_scim s where exists (select 1 from providers p where p.id = s.provider_id for key share)'
      : 'select provider_id, kind, k, m from provider_scim'
  };
  return null;
end $$`;

const PG_FUNCTION = pgFunction(false);

/** each SQLite trigger's statement; `inhibitable` as pgFunction's */
const sqliteTriggers = (inhibitable: boolean) =>
  SQLITE_TRIGGERS(WATCHED_USER_COLUMNS.join(', '), WATCHED_GROUP_COLUMNS.join(', ')).map(
    ([name, when, values]) =>
      [
        name,
        `CREATE TRIGGER ${name} ${when} WHEN EXISTS (SELECT 1 FROM provider_scim)` +
          `${inhibitable ? ' AND NOT EXISTS (SELECT 1 FROM outgoing_sync_inhibits)' : ''} BEGIN ` +
          `INSERT INTO scim_changes (provider_id, kind, ref, member) SELECT provider_id, ${values} FROM provider_scim; END`,
      ] as const,
  );

const PG_TRIGGERS = (cols: string, gcols: string) => [
  ['scim_user_change', `after insert or delete or update of ${cols} on users`],
  ['scim_group_change', `after insert or delete or update of ${gcols} on groups`],
  ['scim_member_change', `after insert or delete on user_groups`],
];

export const scimMigrations: Record<string, VersionedMigration> = {
  provider_scim_0001: (dialect) => ({
    async up(db) {
      await addColumns(
        db.schema
          .createTable('provider_scim')
          .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade')),
        dialect,
        {
          url: 'text',
          verify_certificates: 'bool',
          token: 'text',
          auth_mode: 'text',
          auth_oauth: { type: 'uuid', ref: { table: 'sources', column: 'source_uuid', onDelete: 'set null' } },
          auth_oauth_params: 'json',
          compatibility_mode: 'text',
          service_provider_config_cache_timeout: 'text',
          exclude_users_service_account: 'bool',
          sync_page_size: 'int',
          sync_page_timeout: 'text',
          discovery_enabled: 'bool',
          dry_run: 'bool',
        },
      ).execute();
      for (const [table, column, ref] of [
        ['scim_provider_group_filters', 'group_uuid', 'groups.group_uuid'],
        ['scim_provider_group_mappings', 'pm_uuid', 'property_mappings.pm_uuid'],
      ] as const)
        await db.schema
          .createTable(table)
          .addColumn('provider_id', 'integer', (c) => c.notNull().references('providers.id').onDelete('cascade'))
          .addColumn(column, 'text', (c) => c.notNull().references(ref).onDelete('cascade'))
          .addPrimaryKeyConstraint(`${table}_pk`, ['provider_id', column])
          .execute();
      await addColumns(
        db.schema
          .createTable('scim_sync_state')
          .addColumn('provider_id', 'integer', (c) => c.primaryKey().references('providers.id').onDelete('cascade')),
        dialect,
        {
          /** a full sync asked for (a save, sync/object is not one) */
          sync_requested: { type: 'datetime' },
          /** the node working for this provider holds it until then */
          claimed_until: { type: 'datetime' },
          /** a full sync is under way (the status' is_running) */
          full_sync_running: { type: 'bool' },
          last_sync_started: { type: 'datetime' },
          last_successful_sync: { type: 'datetime' },
          last_sync_status: { type: 'text' },
          last_sync_messages: { type: 'json' },
        },
      ).execute();
      for (const [table, local, localType, ref] of [
        ['scim_provider_users', 'user_id', 'integer', 'users.id'],
        ['scim_provider_groups', 'group_uuid', 'text', 'groups.group_uuid'],
      ] as const) {
        await db.schema
          .createTable(table)
          .addColumn('id', 'text', (c) => c.primaryKey())
          .addColumn('provider_id', 'integer', (c) => c.notNull().references('providers.id').onDelete('cascade'))
          // null once the local object is gone: the remote one is deleted by the next pass
          .addColumn(local, localType, (c) => c.references(ref).onDelete('set null'))
          .addColumn('scim_id', 'text', (c) => c.notNull())
          .addColumn('attributes', 'text', (c) => c.notNull())
          .addUniqueConstraint(`${table}_local`, ['provider_id', local])
          .addUniqueConstraint(`${table}_remote`, ['provider_id', 'scim_id'])
          .execute();
      }
      await addColumns(tableWithAutoId(db, dialect, 'scim_changes'), dialect, {
        provider_id: { type: 'int', notNull: true, ref: { table: 'providers', column: 'id', onDelete: 'cascade' } },
        /** user, group or member (a membership added or removed: ref the group, member the user) */
        kind: 'text',
        ref: 'text',
        member: { type: 'text' },
      }).execute();
      await db.schema.createIndex('scim_changes_provider').on('scim_changes').columns(['provider_id', 'id']).execute();
      const cols = WATCHED_USER_COLUMNS.join(', ');
      const gcols = WATCHED_GROUP_COLUMNS.join(', ');
      if (dialect === 'postgres') {
        await sql.raw(PG_FUNCTION).execute(db);
        for (const [name, when] of PG_TRIGGERS(cols, gcols))
          await sql.raw(`create trigger ${name} ${when} for each row execute function keystage_scim_change()`).execute(db);
      } else {
        for (const [, statement] of sqliteTriggers(false)) await sql.raw(statement).execute(db);
      }
    },
    async down(db) {
      if (dialect === 'postgres') {
        for (const [name, when] of PG_TRIGGERS('', ''))
          await sql.raw(`drop trigger if exists ${name} on ${when.split(' on ')[1]}`).execute(db);
        await sql.raw('drop function if exists keystage_scim_change()').execute(db);
      } else for (const [name] of SQLITE_TRIGGERS('', '')) await sql.raw(`DROP TRIGGER IF EXISTS ${name}`).execute(db);
      for (const t of [
        'scim_changes',
        'scim_provider_users',
        'scim_provider_groups',
        'scim_sync_state',
        'scim_provider_group_mappings',
        'scim_provider_group_filters',
        'provider_scim',
      ])
        await db.schema.dropTable(t).ifExists().execute();
    },
  }),
  // when the `oauth` authentication mode last got a token, and until when it holds (the API's auth_oauth_token_*)
  provider_scim_0002: () => ({
    async up(db) {
      await db.schema.alterTable('scim_sync_state').addColumn('oauth_token_last_updated', 'text').execute();
      await db.schema.alterTable('scim_sync_state').addColumn('oauth_token_expires', 'text').execute();
    },
    async down(db) {
      await db.schema.alterTable('scim_sync_state').dropColumn('oauth_token_expires').execute();
      await db.schema.alterTable('scim_sync_state').dropColumn('oauth_token_last_updated').execute();
    },
  }),
  // a source's sync may inhibit the queue for its own transactions (its `sync_outgoing_trigger_mode`: core 0047)
  provider_scim_0003: (dialect) => {
    const define = async (db: Parameters<ReturnType<VersionedMigration>['up']>[0], inhibitable: boolean) => {
      if (dialect === 'postgres') await sql.raw(pgFunction(inhibitable)).execute(db);
      else
        for (const [name, statement] of sqliteTriggers(inhibitable)) {
          await sql.raw(`DROP TRIGGER IF EXISTS ${name}`).execute(db);
          await sql.raw(statement).execute(db);
        }
    };
    return { up: (db) => define(db, true), down: (db) => define(db, false) };
  },
  // a user or group written while a SCIM provider is being deleted no longer fails (PostgreSQL; SQLite's writers
  // take turns)
  provider_scim_0004: (dialect) => ({
    async up(db) {
      if (dialect === 'postgres') await sql.raw(pgFunction(true, true)).execute(db);
    },
    async down(db) {
      if (dialect === 'postgres') await sql.raw(pgFunction(true)).execute(db);
    },
  }),
};
