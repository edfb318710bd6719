import type { CreateTableBuilder, Kysely } from 'kysely';
import { addColumns, tableWithAutoId, type VersionedMigration } from '../ddl.js';

/**
 * Sources (authentik's Source, OAuthSource and UserOAuthSourceConnection): the base table 0001 created for the
 * identification stage's references gets authentik's fields, the OAuth type its settings table, and a user's
 * link to an identity at a source its own table — one identity links to one user, a user to a source once.
 */
export const m0022_sources: VersionedMigration = (dialect) => ({
  async up(db: Kysely<any>) {
    const text = (name: string, def: string) =>
      db.schema
        .alterTable('sources')
        .addColumn(name, 'text', (c) => c.notNull().defaultTo(def))
        .execute();
    const flag = (name: string, def: number) =>
      db.schema
        .alterTable('sources')
        .addColumn(name, 'integer', (c) => c.notNull().defaultTo(def))
        .execute();
    await text('kind', 'oauthsource');
    await flag('enabled', 1);
    await flag('promoted', 0);
    for (const f of ['authentication_flow', 'enrollment_flow'])
      await db.schema
        .alterTable('sources')
        .addColumn(f, 'text', (c) => c.references('flows.flow_uuid').onDelete('set null'))
        .execute();
    await text('policy_engine_mode', 'any');
    await text('user_matching_mode', 'identifier');
    await text('user_path_template', 'goauthentik.io/sources/%(slug)s');
    await text('icon', '');
    await db.schema.alterTable('sources').addColumn('managed', 'text').execute();

    await addColumns(
      db.schema
        .createTable('oauth_sources')
        .addColumn('source_uuid', 'text', (c) => c.primaryKey().references('sources.source_uuid').onDelete('cascade')),
      dialect,
      {
        provider_type: 'text',
        request_token_url: { type: 'text' },
        authorization_url: { type: 'text' },
        access_token_url: { type: 'text' },
        profile_url: { type: 'text' },
        pkce: 'text',
        consumer_key: 'text',
        consumer_secret: 'text',
        additional_scopes: 'text',
        oidc_well_known_url: 'text',
        oidc_jwks_url: 'text',
        oidc_jwks: 'json',
        authorization_code_auth_method: 'text',
        group_matching_mode: 'text',
      },
    ).execute();

    await (
      addColumns(tableWithAutoId(db, dialect, 'user_source_connections'), dialect, {
        user_id: { type: 'int', notNull: true, ref: { table: 'users', column: 'id', onDelete: 'cascade' } },
        source_uuid: { type: 'uuid', notNull: true, ref: { table: 'sources', column: 'source_uuid', onDelete: 'cascade' } },
        identifier: 'text',
        access_token: { type: 'text' },
        expires: 'datetime',
        created: 'datetime',
        last_updated: 'datetime',
      }) as CreateTableBuilder<'user_source_connections', any>
    )
      .addUniqueConstraint('user_source_connections_identity', ['source_uuid', 'identifier'])
      .addUniqueConstraint('user_source_connections_user', ['user_id', 'source_uuid'])
      .execute();
  },
  async down(db: Kysely<any>) {
    await db.schema.dropTable('user_source_connections').execute();
    await db.schema.dropTable('oauth_sources').execute();
    for (const c of [
      'managed',
      'icon',
      'user_path_template',
      'user_matching_mode',
      'policy_engine_mode',
      'enrollment_flow',
      'authentication_flow',
      'promoted',
      'enabled',
      'kind',
    ])
      await db.schema.alterTable('sources').dropColumn(c).execute();
  },
});
