/**
 * What spans the source types: /sources/all/ (authentik's SourceViewSet: every source as a base Source, `types`,
 * `user_settings` — the sources a person may connect from their settings page, those whose policies pass for them), a
 * flow's sources for its `used_by`, and mounting each type of src/sources/registry.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { SecretColumn } from '../instance/secrets.js';
import { assetUrl } from '../files/names.js';
import type { DB } from '../db/index.js';
import { httpOf } from '../policies/request.js';
import { requireCaller } from '../rest/auth.js';
import { type ColumnReference, referencesUsedBy } from '../rest/references.js';
import { mountResource, type ResourceDef, type UsedBy } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { connectionModels, type JsonListReference, kindOf, type SourceMountRefs, sourceMeta } from './kinds.js';
import { SOURCE_TYPES, sourceTypeOf } from './registry.js';
import { removeSource, renderSources, type SourceRow, baseFilters, sourceUsedBy } from './resource.js';
import { baseSourceProps } from './schema.js';

/** the types a person connects from their settings page */
const CONNECTABLE = SOURCE_TYPES.filter((t) => t.userSettings);

/** what /sources/all/ shows of a source's kind: its type's names, or a bare Source */
const metaOf = (kind: string) => {
  const t = sourceTypeOf(kind);
  return t
    ? sourceMeta(t)
    : { component: '', verbose_name: 'Source', verbose_name_plural: 'Sources', meta_model_name: 'authentik_core.source' };
};

export function allSourcesResource(lists: () => JsonListReference[], columns: () => ColumnReference[] = () => []): ResourceDef<SourceRow> {
  return {
    component: 'Source',
    model: 'Source',
    path: '/sources/all',
    opPrefix: 'sources_all',
    tag: 'sources',
    lookup: { param: 'slug', column: 's.slug', rowKey: 'slug', type: 'slug' },
    props: baseSourceProps,
    ops: ['list', 'retrieve', 'destroy', 'used_by'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_core.source', verbose: 'Source', pk: { column: 's.source_uuid', rowKey: 'source_uuid' } },
    list: {
      filters: baseFilters,
      search: ['s.name', 's.slug'],
      ordering: { name: 's.name', slug: 's.slug', pk: 's.source_uuid' },
      defaultOrdering: ['name'],
      pk: 's.source_uuid',
      unique: ['s.slug'],
    },
    select: (db) => db.selectFrom('sources as s').selectAll('s').select('s.source_uuid as pk'),
    render: async (db, rows) => (await renderSources(db, rows)).map((o, i) => ({ ...o, ...metaOf(rows[i]!.kind) })),
    remove: (tx, existing) => removeSource(tx, existing.source_uuid, lists(), columns()),
    usedBy: async (db, row) => {
      const t = sourceTypeOf(row.kind);
      return [...(t ? await sourceUsedBy(db, row.source_uuid, t) : []), ...(await referencesUsedBy(db, columns(), row.source_uuid))];
    },
  };
}

/** the sources naming a flow as their authentication or enrollment flow: a flow's `used_by` */
export async function sourcesUsingFlow(db: DB, flowUuid: string): Promise<UsedBy[]> {
  const rows = await db
    .selectFrom('sources')
    .select(['source_uuid', 'name', 'kind'])
    .where((eb) => eb.or([eb('authentication_flow', '=', flowUuid), eb('enrollment_flow', '=', flowUuid)]))
    .orderBy('name')
    .execute();
  return rows.map((r) => {
    const t = sourceTypeOf(r.kind);
    return {
      app: t ? connectionModels(t).app : 'authentik_core',
      model_name: r.kind,
      pk: r.source_uuid,
      name: t ? `${t.label} Source ${r.name}` : r.name,
      action: 'set_null',
    };
  });
}

/** /sources/all/ and every type's resources */
export function mountSources(router: ApiRouter, svc: Services, refs: SourceMountRefs) {
  router.route('/sources/all/types', {
    get: {
      doc: {
        operationId: 'sources_all_types_list',
        tag: 'sources',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        // any logged-in caller, as authentik's TypesMixin
        requireCaller(req);
        return SOURCE_TYPES.flatMap((t) => t.creatable());
      },
    },
  });
  router.route('/sources/all/user_settings', {
    get: {
      doc: {
        operationId: 'sources_all_user_settings_list',
        tag: 'sources',
        response: { type: 'array', items: { $ref: '#/components/schemas/UserSetting' } },
      },
      // any logged-in user: the sources they can connect from their settings page, those whose policies pass for them
      handler: async (req) => {
        const caller = requireCaller(req);
        const rows = await svc.db
          .selectFrom('sources')
          .select(['source_uuid', 'name', 'slug', 'icon', 'kind', 'policy_engine_mode'])
          .where('enabled', '=', 1)
          .where(
            'kind',
            'in',
            CONNECTABLE.map((t) => kindOf(t)),
          )
          .orderBy('name')
          .execute();
        const allowed = [];
        for (const r of rows) {
          if (await svc.policies.hasBindings(r.source_uuid)) {
            const verdict = await svc.policies.check({
              target: r.source_uuid,
              mode: r.policy_engine_mode === 'all' ? 'all' : 'any',
              request: {
                user: caller.user,
                http: httpOf(req),
                obj: {
                  app: connectionModels(sourceTypeOf(r.kind)!).app,
                  model_name: r.kind,
                  pk: r.source_uuid,
                  name: r.name,
                  slug: r.slug,
                },
                context: {},
                debug: false,
              },
            });
            if (!verdict.passing) continue;
          }
          allowed.push(r);
        }
        return allowed.map((r) => {
          const settings = sourceTypeOf(r.kind)!.userSettings!;
          return {
            object_uid: r.slug,
            component: settings.component,
            title: r.name,
            configure_url: settings.configurePath(r.slug),
            icon_url: r.icon ? assetUrl(r.icon) : settings.icon,
          };
        });
      },
    },
  });
  mountResource(router, svc.db, allSourcesResource(refs.lists, refs.columns));
  for (const t of SOURCE_TYPES) t.mount(router, svc, refs);
}

/** every type's protocol routes (`/source/<type>/…`) */
export function mountSourceRoutes(app: FastifyInstance, svc: Services) {
  for (const t of SOURCE_TYPES) t.routes?.(app, svc);
}

/** the sources' columns holding secrets: each type's, and the access tokens of every type's connections */
export const sourceSecretColumns = (): SecretColumn[] => [
  { table: 'user_source_connections', pk: 'id', column: 'access_token' },
  ...SOURCE_TYPES.flatMap((t) => t.secretColumns ?? []),
];

/** the key pairs the source types' tables name */
export const sourceTypesKeyPairReferences = (): ColumnReference[] => SOURCE_TYPES.flatMap((t) => t.keyPairReferences?.() ?? []);
