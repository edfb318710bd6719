/**
 * `/core/applications/requestable/` and `/core/application_entitlements/requestable/` (authentik's
 * `ApplicationsRequestableMixin`, `ApplicationEntitlementsRequestableMixin`): what the caller may request — the
 * applications and entitlements some rule binding the caller passes makes requestable (eligibility.ts), with the
 * lists' filters, search and ordering.
 */
import { sql } from 'kysely';
import { applicationList, renderApplications } from '../applications/resource.js';
import { requireCaller } from '../rest/auth.js';
import { type ListSpec, paginate, type Query } from '../rest/list.js';
import { listQueryParams } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { requestableOf } from './eligibility.js';
import { renderTargets } from './grant-requests.js';

const entitlementList: ListSpec = {
  filters: {
    pbm_uuid: { type: 'uuid', column: 'e.pbm_uuid' },
    name: { type: 'str', column: 'e.name' },
    app: { type: 'uuid', column: 'e.app' },
  },
  search: ['e.name'],
  ordering: { name: 'e.name', app: 'e.app', pbm_uuid: 'e.pbm_uuid' },
  defaultOrdering: ['name'],
  pk: 'e.pbm_uuid',
};

/** the pbm_uuids some rule binding names (its target or a child), among which the caller's requestable ones are */
async function candidates(svc: Services, kind: 'applications' | 'entitlements'): Promise<string[]> {
  const rows =
    kind === 'applications'
      ? await svc.db.selectFrom('request_rule_bindings').select('target').distinct().execute()
      : await svc.db.selectFrom('request_rule_child_bindings').select('target').distinct().execute();
  return rows.map((r) => r.target);
}

export function mountRequestable(router: ApiRouter, svc: Services) {
  router.route('/core/applications/requestable', {
    get: {
      doc: {
        operationId: 'core_applications_requestable_list',
        tag: 'core',
        query: listQueryParams(applicationList),
        response: 'PaginatedApplicationList',
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        const granted = [...(await requestableOf(svc, await candidates(svc, 'applications'), caller.user, req))];
        const q = svc.db.selectFrom('applications').selectAll().select('pbm_uuid as pk');
        return paginate(
          svc.db,
          granted.length ? q.where('pbm_uuid', 'in', granted) : q.where(sql<boolean>`1 = 0`),
          applicationList,
          req.query as Query,
          (rows: never[]) => renderApplications(svc.db, rows, caller.user),
          caller,
        );
      },
    },
  });
  router.route('/core/application_entitlements/requestable', {
    get: {
      doc: {
        operationId: 'core_application_entitlements_requestable_list',
        tag: 'core',
        query: listQueryParams(entitlementList),
        response: 'PaginatedRequestableTargetList',
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        const granted = [...(await requestableOf(svc, await candidates(svc, 'entitlements'), caller.user, req))];
        const q = svc.db.selectFrom('application_entitlements as e').selectAll('e');
        return paginate(
          svc.db,
          granted.length ? q.where('e.pbm_uuid', 'in', granted) : q.where(sql<boolean>`1 = 0`),
          entitlementList,
          req.query as Query,
          async (rows: { pbm_uuid: string }[]) => {
            const objs = await renderTargets(
              svc.db,
              rows.map((r) => r.pbm_uuid),
              caller.user,
            );
            return rows.map((r) => objs.get(r.pbm_uuid)).filter(Boolean);
          },
          caller,
        );
      },
    },
  });
}
