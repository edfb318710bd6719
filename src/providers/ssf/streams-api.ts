/**
 * `/ssf/streams/` (authentik's SSFStreamViewSet): the receivers' streams of every SSF provider, for admins — list
 * (filters: provider, endpoint URL, delivery method; search: provider name, endpoint URL), retrieve and delete (the
 * stream and its events go). Receivers create and change streams through the stream endpoint (protocol.ts).
 */
import { Type } from '@sinclair/typebox';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S } from '../../rest/schema.js';
import type { Services } from '../../services.js';
import { providerResource } from '../resource.js';
import type { ProviderDef } from '../types.js';
import { parseList, type StreamRow } from './config.js';
import { DELIVERY_METHODS, EVENT_TYPES, STREAM_STATUSES } from './schema.js';

type Row = StreamRow & { pk: string; provider_name: string };

const props = {
  pk: S.ro(S.uuid({ title: 'Uuid' })),
  status: S.enumOf(STREAM_STATUSES),
  provider: S.int(),
  provider_obj: S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/SSFProvider' }], 'x-computed': true })),
  delivery_method: S.enumOf(DELIVERY_METHODS),
  endpoint_url: S.nullable(S.text()),
  events_requested: Type.Array(S.enumOf(EVENT_TYPES)),
  format: S.text(),
  aud: Type.Array(S.text()),
  iss: S.text(),
};

export function mountSsfStreams(router: ApiRouter, svc: Services, def: ProviderDef) {
  const providers = providerResource(def, svc);
  const resource: ResourceDef<Row> = {
    component: 'SSFStream',
    model: 'Stream',
    path: '/ssf/streams',
    opPrefix: 'ssf_streams',
    tag: 'ssf',
    lookup: { param: 'uuid', column: 's.uuid', rowKey: 'uuid', type: 'uuid' },
    props,
    ops: ['list', 'retrieve', 'destroy'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_providers_ssf.stream', verbose: 'SSF Stream', pk: { column: 's.uuid', rowKey: 'uuid' } },
    list: {
      filters: {
        provider: { type: 'int', column: 's.provider_id' },
        endpoint_url: { type: 'str', column: 's.endpoint_url' },
        delivery_method: { type: 'enum', column: 's.delivery_method', values: DELIVERY_METHODS },
      },
      search: ['p.name', 's.endpoint_url'],
      ordering: { provider: 's.provider_id', uuid: 's.uuid', pk: 's.uuid' },
      defaultOrdering: ['provider', 'uuid'],
      pk: 's.uuid',
    },
    select: (db) =>
      db
        .selectFrom('ssf_streams as s')
        .innerJoin('providers as p', 'p.id', 's.provider_id')
        .selectAll('s')
        .select(['s.uuid as pk', 'p.name as provider_name']),
    render: async (db, rows, req) => {
      const ids = [...new Set(rows.map((r) => Number(r.provider_id)))];
      const provRows = ids.length ? await providers.select(db).where('p.id', 'in', ids).execute() : [];
      const rendered = await providers.render(db, provRows as never, req);
      const byId = new Map(rendered.map((p) => [Number(p.pk), p]));
      return rows.map((r) => ({
        pk: r.uuid,
        status: r.status,
        provider: Number(r.provider_id),
        provider_obj: byId.get(Number(r.provider_id)),
        delivery_method: r.delivery_method,
        endpoint_url: r.endpoint_url,
        events_requested: parseList(r.events_requested),
        format: r.format,
        aud: parseList(r.aud),
        iss: r.iss,
      }));
    },
    remove: async (tx, existing) => {
      await tx.deleteFrom('ssf_streams').where('uuid', '=', existing.uuid).execute();
    },
    usedBy: async () => [],
    inBlueprints: false,
  };
  mountResource(router, svc.db, resource);
}
