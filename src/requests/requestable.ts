/**
 * `/core/applications/requestable/` and `/core/application_entitlements/requestable/` (authentik's
 * `ApplicationsRequestableMixin`, `ApplicationEntitlementsRequestableMixin`): what the caller may request — the
 * applications and entitlements some rule binding the caller passes makes requestable (eligibility.ts), with the
 * lists' filters, search and ordering.
 */
import type { FastifyRequest } from 'fastify';
import { sql } from 'kysely';
import type { UsersTable } from '../db/types.js';
import { entitlementList } from '../applications/entitlements.js';
import { applicationList, renderApplications } from '../applications/resource.js';
import { requireCaller } from '../rest/auth.js';
import { type ListSpec, paginate, type Query } from '../rest/list.js';
import { listQueryParams } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import type { Services } from '../services.js';
import { requestableOf } from './eligibility.js';
import { renderTargets } from './grant-requests.js';

/** the pbm_uuids some rule binding names (its target or a child), among which the caller's requestable ones are */
async function candidates(svc: Services, kind: 'applications' | 'entitlements'): Promise<string[]> {
  const rows =
    kind === 'applications'
      ? await svc.db.selectFrom('request_rule_bindings').select('target').distinct().execute()
      : await svc.db.selectFrom('request_rule_child_bindings').select('target').distinct().execute();
  return rows.map((r) => r.target);
}

/** a requestable list: the caller's requestable pbm_uuids among `kind`'s candidates, as a page of `spec` */
function requestableList<R extends { pbm_uuid: string }>(
  svc: Services,
  kind: 'applications' | 'entitlements',
  spec: ListSpec,
  base: (granted: string[]) => Parameters<typeof paginate>[1],
  render: (rows: R[], user: UsersTable) => Promise<unknown[]>,
) {
  return async (req: FastifyRequest) => {
    const caller = requireCaller(req);
    const granted = [...(await requestableOf(svc, await candidates(svc, kind), caller.user, req))];
    return paginate(svc.db, base(granted), spec, req.query as Query, (rows: R[]) => render(rows, caller.user), caller);
  };
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
      handler: requestableList(
        svc,
        'applications',
        applicationList,
        (granted) => {
          const q = svc.db.selectFrom('applications').selectAll().select('pbm_uuid as pk');
          return granted.length ? q.where('pbm_uuid', 'in', granted) : q.where(sql<boolean>`1 = 0`);
        },
        (rows: never[], user) => renderApplications(svc.db, rows, user),
      ),
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
      handler: requestableList(
        svc,
        'entitlements',
        entitlementList,
        (granted) => {
          const q = svc.db.selectFrom('application_entitlements as e').selectAll('e');
          return granted.length ? q.where('e.pbm_uuid', 'in', granted) : q.where(sql<boolean>`1 = 0`);
        },
        async (rows: { pbm_uuid: string }[], user) => {
          const objs = await renderTargets(
            svc.db,
            rows.map((r) => r.pbm_uuid),
            user,
          );
          return rows.map((r) => objs.get(r.pbm_uuid)).filter(Boolean);
        },
      ),
    },
  });
}
