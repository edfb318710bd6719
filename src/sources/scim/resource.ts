/**
 * /sources/scim/ (authentik's SCIMSourceViewSet): creating a source makes its service account
 * (`ak-source-scim-<pk>`, an internal service account under `goauthentik.io/sources/scim`) and the non-expiring API
 * token its identity provider authenticates with (`token_obj`; the key through /core/tokens/<identifier>/view_key/);
 * deleting it deletes both. `root_url` is the SCIM base URL to give the identity provider. /sources/scim_users/ and
 * /sources/scim_groups/ list, change and delete what it provisioned.
 */
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { type Tx, mountResource, type ResourceDef, type UsedBy } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S, type Props } from '../../rest/schema.js';
import { rowToApi } from '../../rest/serialize.js';
import { requestOrigin } from '../../brands/links.js';
import { secretsOf } from '../../instance/secrets.js';
import { ValidationError } from '../../rest/errors.js';
import { type ColumnReference, referencesUsedBy } from '../../rest/references.js';
import type { DB } from '../../db/index.js';
import type { Services } from '../../services.js';
import { insertManagedAccount } from '../../users/service-accounts.js';
import { partialUsersById } from '../../users/render.js';
import { partialGroupsById } from '../../groups/render.js';
import { tokensByUuid } from '../../tokens/tokens.js';
import type { SourcesTable } from '../table.js';
import { baseSourceProps } from '../schema.js';
import {
  insertSourceRow,
  updateSourceRow,
  baseFilters,
  checkMappings,
  type JsonListReference,
  removeSource,
  renderSources,
  sourceUsedBy,
  writeMappings,
} from '../resource.js';
import { kindOf, type SourceTypeDef, sourceMeta, typeCreate } from '../kinds.js';
import { mountScimProtocol } from './protocol.js';
import type { ScimSourceGroupsTable, ScimSourceUsersTable, ScimSourcesTable } from './table.js';

const NAMES = { type: 'scim', label: 'SCIM' };
const KIND = kindOf(NAMES);
export const SCIM_USER_PATH = 'goauthentik.io/sources/scim';
type Row = SourcesTable & ScimSourcesTable & { pk: string };

const props: Props = {
  pk: baseSourceProps.pk!,
  name: baseSourceProps.name!,
  slug: baseSourceProps.slug!,
  enabled: baseSourceProps.enabled!,
  user_property_mappings: baseSourceProps.user_property_mappings!,
  group_property_mappings: baseSourceProps.group_property_mappings!,
  component: baseSourceProps.component!,
  verbose_name: baseSourceProps.verbose_name!,
  verbose_name_plural: baseSourceProps.verbose_name_plural!,
  meta_model_name: baseSourceProps.meta_model_name!,
  managed: baseSourceProps.managed!,
  user_path_template: baseSourceProps.user_path_template!,
  root_url: S.ro(S.text({ 'x-computed': true, description: 'Get Root URL' })),
  token_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/Token' }], 'x-computed': true })),
};

/** the service account and token of a source */
const identifierOf = (sourceUuid: string) => `ak-source-scim-${sourceUuid}`;

export function scimSourceResource(
  installId: string,
  lists: () => JsonListReference[],
  columns: () => ColumnReference[],
): ResourceDef<Row> {
  return {
    component: 'SCIMSource',
    model: 'SCIMSource',
    path: '/sources/scim',
    opPrefix: 'sources_scim',
    tag: 'sources',
    lookup: { param: 'slug', column: 's.slug', rowKey: 'slug', type: 'slug' },
    props,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_sources_scim.scimsource', verbose: 'SCIM Source', pk: { column: 's.source_uuid', rowKey: 'source_uuid' } },
    list: {
      filters: { pbm_uuid: baseFilters.pbm_uuid!, slug: baseFilters.slug!, name: baseFilters.name! },
      search: ['s.name', 's.slug'],
      ordering: { name: 's.name', slug: 's.slug', pk: 's.source_uuid' },
      defaultOrdering: ['name'],
      pk: 's.source_uuid',
      unique: ['s.slug'],
    },
    select: (db) =>
      db
        .selectFrom('sources as s')
        .innerJoin('scim_sources as c', 'c.source_uuid', 's.source_uuid')
        .selectAll('s')
        .select('c.token_uuid')
        .select('s.source_uuid as pk')
        .where('s.kind', '=', KIND),
    render: async (db, rows, req) => {
      const bases = await renderSources(db, rows);
      const tokens = await tokensByUuid(
        db,
        installId,
        rows.map((r) => r.token_uuid).filter((x): x is string => !!x),
      );
      return rows.map((r, i) => {
        const b = bases[i]!;
        const o: Record<string, unknown> = {};
        for (const k of Object.keys(props)) if (k in b) o[k] = b[k];
        Object.assign(o, sourceMeta(NAMES));
        o.root_url = `${req ? requestOrigin(req) : ''}/source/scim/${r.slug}/v2`;
        o.token_obj = r.token_uuid ? (tokens.get(r.token_uuid) ?? null) : null;
        return o;
      });
    },
    validate: async (data, ctx) => checkMappings(ctx.db, data, 'scimsourcepropertymapping'),
    insert: async (tx, data, ctx) => {
      const source_uuid = await insertSourceRow(tx, data, KIND);
      // authentik's scim_source_post_save: the service account and its token
      const identifier = identifierOf(source_uuid);
      const token_uuid = await insertManagedAccount(tx, secretsOf(ctx.db), {
        identifier,
        name: `SCIM Source ${String(data.name)} Service-Account`,
        path: SCIM_USER_PATH,
        managed: `goauthentik.io/sources/scim/${source_uuid}`,
      });
      await tx.insertInto('scim_sources').values({ source_uuid, token_uuid }).execute();
      await writeMappings(tx, source_uuid, data);
      return data.slug as string;
    },
    update: async (tx, existing, data) => {
      await updateSourceRow(tx, existing.source_uuid, data);
      await writeMappings(tx, existing.source_uuid, data);
      return (data.slug as string | undefined) ?? existing.slug;
    },
    remove: async (tx, existing) => {
      await removeSource(tx, existing.source_uuid, lists(), columns());
      // its service account (and with it the token)
      await tx.deleteFrom('users').where('username', '=', identifierOf(existing.source_uuid)).execute();
    },
    usedBy: async (db, row) => [
      ...(await provisionedUsedBy(db, row)),
      ...(await sourceUsedBy(db, row.source_uuid, NAMES)),
      ...(await referencesUsedBy(db, columns(), row.source_uuid)),
    ],
  };
}

/** what goes with a SCIM source: its token and the links to what it provisioned (the users and groups stay) */
async function provisionedUsedBy(db: DB, row: Row): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  if (row.token_uuid)
    out.push({ app: 'authentik_core', model_name: 'token', pk: row.token_uuid, name: identifierOf(row.source_uuid), action: 'cascade' });
  const users = await db
    .selectFrom('scim_source_users as c')
    .innerJoin('users as u', 'u.id', 'c.user_id')
    .select(['c.id', 'u.username'])
    .where('c.source_uuid', '=', row.source_uuid)
    .orderBy('c.id')
    .execute();
  for (const u of users)
    out.push({ app: 'authentik_sources_scim', model_name: 'scimsourceuser', pk: u.id, name: `SCIM User ${u.username}`, action: 'cascade' });
  const groups = await db
    .selectFrom('scim_source_groups as c')
    .innerJoin('groups as g', 'g.group_uuid', 'c.group_uuid')
    .select(['c.id', 'g.name'])
    .where('c.source_uuid', '=', row.source_uuid)
    .orderBy('c.id')
    .execute();
  for (const g of groups)
    out.push({ app: 'authentik_sources_scim', model_name: 'scimsourcegroup', pk: g.id, name: `SCIM Group ${g.name}`, action: 'cascade' });
  return out;
}

type UserRow = ScimSourceUsersTable & { pk: string };
type GroupRow = ScimSourceGroupsTable & { pk: string };

const sourceRef = { table: 'sources', column: 'source_uuid' };

const userProps: Props = {
  id: S.str({ 'x-optional': true }),
  external_id: S.str(),
  user: S.intFk({ table: 'users', column: 'id' }),
  user_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/PartialUser' }], 'x-computed': true })),
  source: S.fk(sourceRef, { nullable: false }),
  attributes: S.obj({ default: {} }),
};

const groupProps: Props = {
  id: S.str({ 'x-optional': true }),
  external_id: S.str(),
  group: S.fk({ table: 'groups', column: 'group_uuid' }, { nullable: false }),
  group_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/PartialGroup' }], 'x-computed': true })),
  source: S.fk(sourceRef, { nullable: false }),
  attributes: S.obj({ default: {} }),
};

/** the source named must be a SCIM source */
async function checkSource(db: DB, data: Record<string, unknown>) {
  if (data.source === undefined) return;
  const s = await db
    .selectFrom('sources')
    .select('kind')
    .where('source_uuid', '=', data.source as string)
    .executeTakeFirst();
  if (s?.kind !== KIND) throw ValidationError.field('source', `Invalid pk "${String(data.source)}" - object does not exist.`);
}

function provisionedResource<R extends UserRow | GroupRow>(kind: 'users' | 'groups', installId: string): ResourceDef<R> {
  const isUser = kind === 'users';
  const table = isUser ? 'scim_source_users' : 'scim_source_groups';
  const objectColumn = isUser ? 'user_id' : 'group_uuid';
  const own = isUser ? userProps : groupProps;
  /** authentik's unique_together (user or group, source): a 400, not the database's refusal */
  const uniqueTogether = async (tx: Tx, object: string | number, source: string, self?: string) => {
    let q = tx
      .selectFrom(table)
      .select('id')
      .where(objectColumn, '=', object as never)
      .where('source_uuid', '=', source);
    if (self !== undefined) q = q.where('id', '<>', self);
    if (await q.executeTakeFirst())
      throw ValidationError.nonField(`The fields ${isUser ? 'user' : 'group'}, source must make a unique set.`);
  };
  return {
    component: isUser ? 'SCIMSourceUser' : 'SCIMSourceGroup',
    model: isUser ? 'SCIMSourceUser' : 'SCIMSourceGroup',
    path: `/sources/scim_${kind}`,
    opPrefix: `sources_scim_${kind}`,
    tag: 'sources',
    lookup: { param: 'id', column: 'c.id', rowKey: 'id', type: 'slug' },
    props: own,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: {
      label: `authentik_sources_scim.scimsource${isUser ? 'user' : 'group'}`,
      verbose: isUser ? 'SCIM Source User' : 'SCIM Source Group',
    },
    list: {
      filters: isUser
        ? {
            source__slug: { type: 'str', column: 's.slug' },
            user__id: { type: 'int', column: 'c.user_id' },
            user__username: { type: 'str', column: 'o.username' },
          }
        : {
            source__slug: { type: 'str', column: 's.slug' },
            group__group_uuid: { type: 'uuid', column: 'c.group_uuid' },
            group__name: { type: 'str', column: 'o.name' },
          },
      search: isUser ? ['o.username', 'c.external_id'] : ['o.name', 'c.external_id'],
      ordering: { id: 'c.id', pk: 'c.id' },
      defaultOrdering: ['pk'],
      pk: 'c.id',
    },
    select: (db) =>
      (isUser
        ? db
            .selectFrom('scim_source_users as c')
            .innerJoin('users as o', 'o.id', 'c.user_id')
            .innerJoin('sources as s', 's.source_uuid', 'c.source_uuid')
            .selectAll('c')
            .select('c.id as pk')
        : db
            .selectFrom('scim_source_groups as c')
            .innerJoin('groups as o', 'o.group_uuid', 'c.group_uuid')
            .innerJoin('sources as s', 's.source_uuid', 'c.source_uuid')
            .selectAll('c')
            .select('c.id as pk')) as never,
    render: async (db, rows) => {
      const objects: Map<string | number, unknown> = isUser
        ? await partialUsersById(
            db,
            rows.map((r) => (r as UserRow).user_id),
            installId,
          )
        : await partialGroupsById(
            db,
            rows.map((r) => (r as GroupRow).group_uuid),
          );
      return rows.map((r) => {
        const o = rowToApi(own, r);
        o.source = r.source_uuid;
        o.attributes = JSON.parse(r.attributes || '{}');
        if (isUser) {
          o.user = (r as UserRow).user_id;
          o.user_obj = objects.get((r as UserRow).user_id) ?? null;
        } else {
          o.group = (r as GroupRow).group_uuid;
          o.group_obj = objects.get((r as GroupRow).group_uuid) ?? null;
        }
        return o;
      });
    },
    validate: async (data, ctx) => checkSource(ctx.db, data),
    insert: async (tx, data) => {
      const id = (data.id as string | undefined) ?? randomUUID();
      const clash = await tx.selectFrom(table).select('id').where('id', '=', id).executeTakeFirst();
      if (clash) throw ValidationError.field('id', `${isUser ? 'SCIM Source User' : 'SCIM Source Group'} with this id already exists.`);
      await uniqueTogether(tx, (isUser ? data.user : data.group) as string | number, data.source as string);
      await tx
        .insertInto(table)
        .values({
          id,
          external_id: data.external_id,
          [objectColumn]: isUser ? data.user : data.group,
          source_uuid: data.source,
          attributes: JSON.stringify(data.attributes ?? {}),
        } as never)
        .execute();
      return id;
    },
    update: async (tx, existing, data) => {
      const object = (isUser ? (data.user ?? (existing as UserRow).user_id) : (data.group ?? (existing as GroupRow).group_uuid)) as
        | string
        | number;
      await uniqueTogether(tx, object, (data.source as string | undefined) ?? existing.source_uuid, existing.id);
      const set: Record<string, unknown> = {};
      if (data.external_id !== undefined) set.external_id = data.external_id;
      if (data.source !== undefined) set.source_uuid = data.source;
      if (data.attributes !== undefined) set.attributes = JSON.stringify(data.attributes);
      if (isUser && data.user !== undefined) set.user_id = data.user;
      if (!isUser && data.group !== undefined) set.group_uuid = data.group;
      if (Object.keys(set).length)
        await tx
          .updateTable(table)
          .set(set as never)
          .where('id', '=', existing.id)
          .execute();
      return existing.id;
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom(table).where('id', '=', existing.id).execute();
    },
    usedBy: async () => [],
  };
}

export function mountScimSource(router: ApiRouter, svc: Services, lists: () => JsonListReference[], columns: () => ColumnReference[]) {
  mountResource(router, svc.db, scimSourceResource(svc.installId, lists, columns));
  mountResource(router, svc.db, provisionedResource<UserRow>('users', svc.installId));
  mountResource(router, svc.db, provisionedResource<GroupRow>('groups', svc.installId));
}

export const scimSourceType: SourceTypeDef = {
  ...NAMES,
  creatable: () => [
    typeCreate(NAMES, 'System for Cross-domain Identity Management Source, allows for cross-system user provisioning', 'scim.png'),
  ],
  mount: (router, svc, refs) => mountScimSource(router, svc, refs.lists, refs.columns),
  routes: mountScimProtocol,
};
