/** /providers/all/: every provider as a base Provider object, the creatable types, used_by. */
import { sql, type SqlBool } from 'kysely';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { requireCaller } from '../rest/auth.js';
import { boolFilter } from '../rest/list.js';
import { S } from '../rest/schema.js';
import type { Services } from '../services.js';
import type { ProvidersTable } from './table.js';
import { baseProviderProps, providerUsedBy, renderProviders } from './base.js';
import { providerTypeByKind, providerTypes } from './registry.js';

type Row = ProvidersTable & { pk: number };

/** provider kinds authentik counts as backchannel providers (its BackchannelProvider subclasses: SCIM, SSF, …) */
const backchannelKinds = () => providerTypes.filter((d) => d.backchannelOnly).map((d) => d.kind);

export const allProvidersResource: ResourceDef<Row> = {
  component: 'Provider',
  model: 'Provider',
  path: '/providers/all',
  opPrefix: 'providers_all',
  tag: 'providers',
  lookup: { param: 'id', column: 'id', type: 'int' },
  props: { ...baseProviderProps, name: S.ro(S.text()) },
  ops: ['list', 'retrieve', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_core.provider', verbose: 'Provider' },
  list: {
    filters: {
      // providers no application uses (as its provider)
      application__isnull: boolFilter((none) => (eb) => {
        const used = eb.exists(eb.selectFrom('applications as a').select(sql`1`.as('one')).whereRef('a.provider', '=', 'providers.id'));
        return none ? eb.not(used) : used;
      }),
      backchannel: boolFilter(
        (b) => (eb) =>
          backchannelKinds().length ? eb('kind', b ? 'in' : 'not in', backchannelKinds()) : b ? sql<SqlBool>`1 = 0` : sql<SqlBool>`1 = 1`,
      ),
    },
    search: ['name'],
    ordering: { name: 'name', pk: 'id' },
    defaultOrdering: ['name'],
    pk: 'id',
    unique: ['name'],
  },
  select: (db) => db.selectFrom('providers').selectAll().select('id as pk'),
  render: (db, rows) => renderProviders(db, rows, providerTypeByKind),
  remove: async (tx, row) => {
    await tx.deleteFrom('providers').where('id', '=', Number(row.id)).execute();
  },
  usedBy: (db, row) => providerUsedBy(db, Number(row.id)),
};

export function mountAllProviders(router: ApiRouter, svc: Services) {
  router.route('/providers/all/types', {
    get: {
      doc: {
        operationId: 'providers_all_types_list',
        tag: 'providers',
        response: { type: 'array', items: { $ref: '#/components/schemas/TypeCreate' } },
      },
      handler: async (req) => {
        // any logged-in caller, as authentik's TypesMixin
        requireCaller(req);
        return providerTypes
          .map((d) => ({
            name: d.verboseName,
            description: d.description,
            component: d.component,
            model_name: d.kind,
            ...(d.iconUrl ? { icon_url: d.iconUrl } : {}),
            requires_enterprise: d.requiresEnterprise ?? false,
            deprecated: false,
          }))
          .sort((a, b) => a.name.localeCompare(b.name));
      },
    },
  });
  mountResource(router, svc.db, allProvidersResource);
}
