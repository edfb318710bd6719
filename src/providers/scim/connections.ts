/**
 * /providers/scim_users/ and /providers/scim_groups/ (authentik's SCIMProviderUserViewSet and …GroupViewSet): the
 * remote objects a SCIM provider made or linked. An administrator may link one by hand: the remote object is read first
 * (its attributes stored), and a link the service provider does not know is a 400. Deleting a link leaves the remote
 * object alone.
 */
import { randomUUID } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { ValidationError } from '../../rest/errors.js';
import { S, type Props } from '../../rest/schema.js';
import type { Services } from '../../services.js';
import { partialUsersById } from '../../users/render.js';
import { partialGroupsById } from '../../groups/render.js';
import { ScimClient } from './client.js';
import { scimProviderById } from './config.js';
import { parseJson } from './sync-ctx.js';

type Kind = 'users' | 'groups';
type Row = { id: string; provider_id: number; scim_id: string; attributes: string; local: string | number | null };

const partial = (component: string) => S.ro(Type.Unsafe({ allOf: [{ $ref: `#/components/schemas/${component}` }], 'x-computed': true }));

function propsOf(kind: Kind): Props {
  return {
    id: S.ro(S.uuid()),
    scim_id: S.str(),
    ...(kind === 'users'
      ? { user: S.intFk({ table: 'users', column: 'id' }), user_obj: partial('PartialUser') }
      : { group: S.fk({ table: 'groups', column: 'group_uuid' }, { nullable: false }), group_obj: partial('PartialGroup') }),
    provider: S.intFk({ table: 'provider_scim', column: 'provider_id' }),
    attributes: S.ro(S.obj({ 'x-computed': true })),
  };
}

function connectionResource(svc: Services, kind: Kind): ResourceDef<Row> {
  const table = kind === 'users' ? 'scim_provider_users' : 'scim_provider_groups';
  const local = kind === 'users' ? 'user_id' : 'group_uuid';
  const field = kind === 'users' ? 'user' : 'group';
  const component = kind === 'users' ? 'SCIMProviderUser' : 'SCIMProviderGroup';
  return {
    component,
    model: component,
    path: `/providers/scim_${kind}`,
    opPrefix: `providers_scim_${kind}`,
    tag: 'providers',
    lookup: { param: 'id', column: 'c.id', rowKey: 'id', type: 'uuid' },
    props: propsOf(kind),
    ops: ['list', 'create', 'retrieve', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: {
      label: `authentik_providers_scim.scimprovider${kind === 'users' ? 'user' : 'group'}`,
      verbose: `scim provider ${kind === 'users' ? 'user' : 'group'}`,
    },
    list: {
      filters: {
        provider__id: { type: 'int', column: 'c.provider_id' },
        ...(kind === 'groups'
          ? {
              group__group_uuid: { type: 'uuid', column: 'c.group_uuid' },
              group__name: { type: 'str', column: 'g.name' },
            }
          : { user__id: { type: 'int', column: 'c.user_id' }, user__username: { type: 'str', column: 'u.username' } }),
      },
      search: kind === 'users' ? ['u.username', 'c.scim_id'] : ['g.name', 'c.scim_id'],
      ordering: { id: 'c.id', scim_id: 'c.scim_id' },
      defaultOrdering: ['id'],
      pk: 'c.id',
    },
    select: (db) =>
      kind === 'users'
        ? (db
            .selectFrom('scim_provider_users as c')
            .leftJoin('users as u', 'u.id', 'c.user_id')
            .select(['c.user_id as local', 'c.id', 'c.provider_id', 'c.scim_id', 'c.attributes']) as never)
        : (db
            .selectFrom('scim_provider_groups as c')
            .leftJoin('groups as g', 'g.group_uuid', 'c.group_uuid')
            .select(['c.group_uuid as local', 'c.id', 'c.provider_id', 'c.scim_id', 'c.attributes']) as never),
    render: async (db, rows) => {
      const locals = rows.map((r) => r.local).filter((v) => v !== null);
      const objs =
        kind === 'users' ? await partialUsersById(db, locals.map(Number), svc.installId) : await partialGroupsById(db, locals.map(String));
      return rows.map((r) => ({
        id: r.id,
        scim_id: r.scim_id,
        [field]: kind === 'users' && r.local !== null ? Number(r.local) : r.local,
        [`${field}_obj`]:
          r.local === null ? null : ((objs as Map<unknown, unknown>).get(kind === 'users' ? Number(r.local) : r.local) ?? null),
        provider: Number(r.provider_id),
        attributes: parseJson(r.attributes),
      }));
    },
    validate: async (data, ctx) => {
      const provider = await scimProviderById(ctx.db, Number(data.provider));
      if (!provider) throw ValidationError.field('provider', `Invalid pk "${data.provider}" - object does not exist.`);
      const clash = await ctx.db
        .selectFrom(table as 'scim_provider_users')
        .select('id')
        .where('provider_id', '=', provider.id)
        .where((eb) => eb.or([eb(local as 'user_id', '=', data[field] as never), eb('scim_id', '=', data.scim_id as string)]))
        .executeTakeFirst();
      if (clash) throw ValidationError.nonField(`The fields scim_id, ${field}, provider must make a unique set.`);
      try {
        // (through the write's own database handle: inside a blueprint's transaction, that transaction)
        const remote = await new ScimClient(provider, { ...svc, db: ctx.db }).request(
          'GET',
          `/${kind === 'users' ? 'Users' : 'Groups'}/${encodeURIComponent(String(data.scim_id))}`,
        );
        data.attributes = remote;
      } catch (e) {
        throw ValidationError.nonField(`Failed to read the object from the SCIM provider: ${e instanceof Error ? e.message : e}`);
      }
    },
    insert: async (tx, data) => {
      const id = randomUUID();
      await tx
        .insertInto(table as 'scim_provider_users')
        .values({
          id,
          provider_id: Number(data.provider),
          [local]: data[field],
          scim_id: data.scim_id as string,
          attributes: JSON.stringify(data.attributes ?? {}),
        } as never)
        .execute();
      return id;
    },
    remove: async (tx, existing) => {
      await tx
        .deleteFrom(table as 'scim_provider_users')
        .where('id', '=', existing.id)
        .execute();
    },
    usedBy: async () => [],
  };
}

export function mountScimConnections(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, connectionResource(svc, 'users'));
  mountResource(router, svc.db, connectionResource(svc, 'groups'));
}
