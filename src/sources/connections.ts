/**
 * /sources/user_connections/oauth/ (authentik's UserOAuthSourceConnectionViewSet) and /sources/user_connections/all/:
 * a person sees and deletes their own connections (their settings page's "Connected services"); creating or
 * changing one is an administrator's. The access token is sealed at rest and write-only.
 */
import { sql } from 'kysely';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { FilterSpec, ListSpec } from '../rest/list.js';
import type { ApiRouter } from '../rest/routes.js';
import { Forbidden, ValidationError } from '../rest/errors.js';
import { rowToApi } from '../rest/serialize.js';
import { S, type Props } from '../rest/schema.js';
import { Type } from '@sinclair/typebox';
import { secretsOf } from '../instance/secrets.js';
import type { DB } from '../db/index.js';
import type { Services } from '../services.js';
import type { GroupSourceConnectionsTable, UserSourceConnectionsTable } from './table.js';
import { connectionProps } from './schema.js';
import { allSourcesResource } from './all.js';
import { partialUsersById } from '../users/render.js';
import { partialGroupsById } from '../groups/render.js';

/** a connection list's spec: its owner filter, `source__slug`, authentik's search and ordering */
function connectionList(owner: Record<string, FilterSpec>): ListSpec {
  return {
    filters: {
      ...owner,
      source__slug: {
        type: 'custom',
        parse: (values) => {
          const v = values.at(-1);
          if (v === undefined || v === '') return { cond: undefined };
          return { cond: () => sql`c.source_uuid in (select source_uuid from sources where slug = ${v})` as never };
        },
        schema: { type: 'string' },
      },
    },
    search: ['c.identifier'],
    ordering: { pk: 'c.id', identifier: 'c.identifier', created: 'c.created', last_updated: 'c.last_updated' },
    defaultOrdering: ['pk'],
    pk: 'c.id',
  };
}

type Row = UserSourceConnectionsTable & { pk: number; user: number; source: string };

export const ACCESS_TOKEN = 'user_source_connections.access_token';

const allProps: Props = {
  pk: S.ro(S.int({ title: 'ID' })),
  user: S.ro(S.int()),
  source: S.fk({ table: 'sources', column: 'source_uuid' }, { nullable: false }),
  source_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/Source' }], 'x-computed': true })),
  identifier: S.str(),
  created: S.ro(S.datetime()),
  last_updated: S.ro(S.datetime()),
};

async function sourcesByUuid(db: DB, uuids: string[]) {
  const out = new Map<string, Record<string, unknown>>();
  if (!uuids.length) return out;
  const def = allSourcesResource(() => []);
  const rows = await def
    .select(db)
    .where('s.source_uuid', 'in', [...new Set(uuids)])
    .execute();
  const rendered = await def.render(db, rows as never, undefined as never);
  for (const r of rendered) out.set(String(r.pk), r);
  return out;
}

type Kind = 'oauth' | 'ldap' | 'saml' | 'telegram' | 'plex' | 'all';
const SOURCE_KIND = {
  oauth: 'oauthsource',
  ldap: 'ldapsource',
  saml: 'samlsource',
  telegram: 'telegramsource',
  plex: 'plexsource',
} as const;
const LABEL = { oauth: 'OAuth', ldap: 'LDAP', saml: 'SAML', telegram: 'Telegram', plex: 'Plex', all: '' } as const;

/** a typed list shows only its type's sources' connections (…/oauth/, …/ldap/, …/saml/, …/telegram/, …/plex/), …/all/ every one */
const ofKind = <Q extends { where: (...a: never[]) => Q }>(q: Q, kind: Kind): Q =>
  kind === 'all'
    ? q
    : ((q as unknown as { where: (c: unknown) => Q }).where(
        sql`c.source_uuid in (select source_uuid from sources where kind = ${SOURCE_KIND[kind]})`,
      ) as Q);

const ldapUserProps: Props = {
  ...allProps,
  user_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/PartialUser' }], 'x-computed': true })),
};

function connectionResource(kind: Kind, installId: string): ResourceDef<Row> {
  const props = kind === 'oauth' ? connectionProps : kind === 'ldap' ? ldapUserProps : allProps;
  return {
    component: `User${LABEL[kind]}SourceConnection`,
    model: `User${LABEL[kind]}SourceConnection`,
    path: `/sources/user_connections/${kind}`,
    opPrefix: `sources_user_connections_${kind}`,
    tag: 'sources',
    lookup: { param: 'id', column: 'c.id', rowKey: 'id', type: 'int' },
    props,
    ops:
      kind !== 'all'
        ? ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by']
        : ['list', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'owner', column: 'c.user_id' },
    list: connectionList({ user: { type: 'int', column: 'c.user_id' } }),
    select: (db) =>
      ofKind(
        db.selectFrom('user_source_connections as c').selectAll('c').select(['c.id as pk', 'c.user_id as user', 'c.source_uuid as source']),
        kind,
      ),
    render: async (db, rows) => {
      const sources = await sourcesByUuid(
        db,
        rows.map((r) => r.source_uuid),
      );
      const users =
        kind === 'ldap'
          ? await partialUsersById(
              db,
              rows.map((r) => Number(r.user_id)),
              installId,
            )
          : undefined;
      return rows.map((r) => ({
        ...rowToApi(props, r),
        pk: Number(r.id),
        user: Number(r.user_id),
        source: r.source_uuid,
        source_obj: sources.get(r.source_uuid) ?? null,
        ...(users ? { user_obj: users.get(Number(r.user_id)) ?? null } : {}),
      }));
    },
    validate: async (data, ctx, existing) => {
      if (!ctx.caller.superuser) throw Forbidden.permission();
      // one identity per user at a source, one user per identity (checked again by the table's unique constraints)
      const source = (data.source as string | undefined) ?? existing?.source_uuid;
      const identifier = (data.identifier as string | undefined) ?? existing?.identifier;
      const user = existing ? Number(existing.user_id) : ctx.caller.user.id;
      const clash = await ctx.db
        .selectFrom('user_source_connections')
        .select(['id', 'user_id', 'identifier'])
        .where('source_uuid', '=', source as string)
        .where((eb) => eb.or([eb('user_id', '=', user), eb('identifier', '=', identifier as string)]))
        .execute();
      for (const c of clash) {
        if (existing && Number(c.id) === Number(existing.id)) continue;
        throw ValidationError.nonField(
          Number(c.user_id) === user
            ? 'The fields user, source must make a unique set.'
            : 'The fields source, identifier must make a unique set.',
        );
      }
    },
    insert: async (tx, data, ctx) => {
      const now = new Date().toISOString();
      const token = data.access_token as string | null | undefined;
      const row = await tx
        .insertInto('user_source_connections')
        .values({
          user_id: ctx.caller.user.id,
          source_uuid: data.source as string,
          identifier: data.identifier as string,
          access_token: token ? secretsOf(ctx.db).seal(ACCESS_TOKEN, token) : null,
          expires: (data.expires as string | undefined) ?? now,
          created: now,
          last_updated: now,
        } as never)
        .returning('id')
        .executeTakeFirstOrThrow();
      return Number(row.id);
    },
    update: async (tx, existing, data, ctx) => {
      const set: Record<string, unknown> = { last_updated: new Date().toISOString() };
      if (data.source !== undefined) set.source_uuid = data.source;
      if (data.identifier !== undefined) set.identifier = data.identifier;
      if (data.expires !== undefined) set.expires = data.expires;
      if (data.access_token !== undefined)
        set.access_token = data.access_token ? secretsOf(ctx.db).seal(ACCESS_TOKEN, data.access_token as string) : null;
      await tx
        .updateTable('user_source_connections')
        .set(set as never)
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('user_source_connections').where('id', '=', existing.id).execute();
    },
    usedBy: async () => [],
  };
}

const groupProps: Props = {
  pk: S.ro(S.int({ title: 'ID' })),
  group: S.ro(S.uuid()),
  source: S.fk({ table: 'sources', column: 'source_uuid' }, { nullable: false }),
  source_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/Source' }], 'x-computed': true })),
  identifier: S.str(),
  created: S.ro(S.datetime()),
  last_updated: S.ro(S.datetime()),
};

type GroupRow = GroupSourceConnectionsTable & { pk: number; group: string; source: string };

/**
 * /sources/group_connections/oauth/ and …/all/ (authentik's GroupSourceConnectionViewSet): the groups a source's
 * logins matched or created (src/sources/groups.ts). Administrators list, change and delete them; they are made by
 * logins (authentik's serializer has the group read-only, so its create cannot name one).
 */
const ldapGroupProps: Props = {
  ...groupProps,
  group_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/PartialGroup' }], 'x-computed': true })),
};

function groupConnectionResource(kind: Kind): ResourceDef<GroupRow> {
  const props = kind === 'ldap' ? ldapGroupProps : groupProps;
  return {
    component: `Group${LABEL[kind]}SourceConnection`,
    model: `Group${LABEL[kind]}SourceConnection`,
    path: `/sources/group_connections/${kind}`,
    opPrefix: `sources_group_connections_${kind}`,
    tag: 'sources',
    lookup: { param: 'id', column: 'c.id', rowKey: 'id', type: 'int' },
    props: groupProps,
    ops: ['list', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: {
      label: kind === 'all' ? 'authentik_core.groupsourceconnection' : `authentik_sources_${kind}.group${kind}sourceconnection`,
      verbose: kind === 'all' ? 'Group Source Connection' : `Group ${LABEL[kind]} Source Connection`,
    },
    list: connectionList({ group: { type: 'uuid', column: 'c.group_uuid' } }),
    select: (db) =>
      ofKind(
        db
          .selectFrom('group_source_connections as c')
          .selectAll('c')
          .select(['c.id as pk', 'c.group_uuid as group', 'c.source_uuid as source']),
        kind,
      ),
    render: async (db, rows) => {
      const sources = await sourcesByUuid(
        db,
        rows.map((r) => r.source_uuid),
      );
      const groups =
        kind === 'ldap'
          ? await partialGroupsById(
              db,
              rows.map((r) => r.group_uuid),
            )
          : undefined;
      return rows.map((r) => ({
        ...rowToApi(props, r),
        pk: Number(r.id),
        group: r.group_uuid,
        source: r.source_uuid,
        source_obj: sources.get(r.source_uuid) ?? null,
        ...(groups ? { group_obj: groups.get(r.group_uuid) ?? null } : {}),
      }));
    },
    validate: async (data, ctx, existing) => {
      const source = (data.source as string | undefined) ?? existing?.source_uuid;
      const identifier = (data.identifier as string | undefined) ?? existing?.identifier;
      const clash = await ctx.db
        .selectFrom('group_source_connections')
        .select('id')
        .where('source_uuid', '=', source as string)
        .where('identifier', '=', identifier as string)
        .executeTakeFirst();
      if (clash && Number(clash.id) !== Number(existing?.id))
        throw ValidationError.nonField('The fields source, identifier must make a unique set.');
    },
    update: async (tx, existing, data) => {
      const set: Record<string, unknown> = { last_updated: new Date().toISOString() };
      if (data.source !== undefined) set.source_uuid = data.source;
      if (data.identifier !== undefined) set.identifier = data.identifier;
      await tx
        .updateTable('group_source_connections')
        .set(set as never)
        .where('id', '=', existing.id)
        .execute();
      return existing.id;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('group_source_connections').where('id', '=', existing.id).execute();
    },
    usedBy: async () => [],
  };
}

export function mountSourceConnections(router: ApiRouter, svc: Services) {
  for (const kind of ['all', 'oauth', 'ldap', 'saml', 'telegram', 'plex'] as const) {
    mountResource(router, svc.db, connectionResource(kind, svc.installId));
    mountResource(router, svc.db, groupConnectionResource(kind));
  }
}
