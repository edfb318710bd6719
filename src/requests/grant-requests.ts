/**
 * `/requests/grant-requests/` (authentik's GrantRequestViewSet): a person asks for applications or entitlements
 * (`create` answers the link of the request flow, whose last stage makes the request), reviewers find what they may
 * decide (`pending_review`) and decide (`fulfill`), and end a grant early (`revoke`); the requester may cancel a
 * pending request. Keystage has no per-user object permissions: what authentik assigns at creation — view and delete
 * to the requester, view, fulfill and revoke to the eligible reviewers — is decided here from the same facts at each
 * request; `authentik_requests.*_grantrequest` held globally (a role, or a superuser) opens the same actions.
 * Agents are not supported: `agent/` refuses every caller, as authentik refuses one that is not an agent.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { sql } from 'kysely';
import { renderApplications } from '../applications/resource.js';
import type { ApplicationsTable } from '../applications/table.js';
import type { UsersTable } from '../db/types.js';
import type { DB } from '../db/index.js';
import { startFlow } from '../flows/engine/start.js';
import type { FlowsTable } from '../db/types.js';
import { hasGlobal } from '../rbac/check.js';
import { requireCaller, type Caller } from '../rest/auth.js';
import { durationError, parseDuration } from '../rest/duration.js';
import { Forbidden, NotFound, ValidationError } from '../rest/errors.js';
import { type ListSpec, paginate, type Query } from '../rest/list.js';
import { listQueryParams, registerPaginated } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import { isUuid, normalizeUuid } from '../rest/validate.js';
import { partialUsersById } from '../users/render.js';
import type { Services } from '../services.js';
import { grantingRuleBindings, isReviewer, requestableOf, rulesOf } from './eligibility.js';
import { grantRequestFinalBinding } from './final-stage.js';
import { isActive, lapsed, recordDecision, revokeGrant, targetsOf } from './grants.js';
import { entitlementTarget } from './rule-bindings.js';
import type { GrantRequestsTable, RequestRulesTable } from './table.js';

const STATUSES = ['created', 'approved', 'denied', 'revoked'] as const;
const PERM = (p: 'view' | 'delete' | 'fulfill' | 'revoke') => `authentik_requests.${p}_grantrequest`;

const partialUser = Type.Unsafe({ $ref: '#/components/schemas/PartialUser', readOnly: true });
export const grantRequestSchema = Type.Object(
  {
    created: S.ro(S.datetime()),
    created_by: partialUser,
    requester_data: S.obj(),
    fulfiller_data: S.obj(),
    revoked_by: Type.Unsafe({ $ref: '#/components/schemas/PartialUser', readOnly: true, nullable: true }),
    agent_owner: Type.Unsafe({ $ref: '#/components/schemas/PartialUser', readOnly: true, nullable: true }),
    is_active: S.ro(S.bool()),
    expires: S.nullable(S.datetime()),
    status: S.ro(S.enumOf(STATUSES)),
    targets: S.ro(Type.Array(S.uuid())),
    target_objs: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/RequestableTarget' }))),
    uuid: S.uuid(),
  },
  { description: 'Mixin to validate that a valid enterprise license\nexists before allowing to save the object' },
);

/** authentik's RequestableTargetSerializer */
export const requestableTargetSchema = Type.Object({
  verbose_name: S.ro(Type.String({ description: "Return object's verbose_name" })),
  verbose_name_plural: S.ro(Type.String({ description: "Return object's plural verbose_name" })),
  meta_model_name: S.ro(Type.String({ description: 'Return internal model name' })),
  pbm_uuid: S.ro(Type.String()),
  label: S.ro(Type.String()),
  parent: Type.Unsafe({ $ref: '#/components/schemas/Application', readOnly: true, nullable: true }),
});

type Row = GrantRequestsTable;

/** targets as authentik's RequestableTargetSerializer shows them, each with its application */
export async function renderTargets(db: DB, pbms: string[], user: UsersTable | undefined): Promise<Map<string, Record<string, unknown>>> {
  const out = new Map<string, Record<string, unknown>>();
  if (!pbms.length) return out;
  const ents = await db.selectFrom('application_entitlements').selectAll().where('pbm_uuid', 'in', pbms).execute();
  const appIds = [...new Set([...pbms, ...ents.map((e) => e.app)])];
  const appRows = (await db
    .selectFrom('applications')
    .selectAll()
    .select('pbm_uuid as pk')
    .where('pbm_uuid', 'in', appIds)
    .execute()) as (ApplicationsTable & { pk: string })[];
  const apps = new Map((await renderApplications(db, appRows, user)).map((a) => [String(a.pk), a]));
  for (const a of appRows)
    if (pbms.includes(a.pbm_uuid))
      out.set(a.pbm_uuid, {
        verbose_name: 'Application',
        verbose_name_plural: 'Applications',
        meta_model_name: 'authentik_core.application',
        pbm_uuid: a.pbm_uuid,
        label: a.name,
        parent: apps.get(a.pbm_uuid) ?? null,
      });
  for (const e of ents) out.set(e.pbm_uuid, { ...entitlementTarget(e), parent: apps.get(e.app) ?? null });
  return out;
}

async function renderRequests(svc: Services, rows: Row[], user: UsersTable | undefined) {
  const ids = rows.map((r) => r.uuid);
  const targets = ids.length
    ? await svc.db.selectFrom('grant_request_targets').select(['request', 'target']).where('request', 'in', ids).orderBy('uuid').execute()
    : [];
  const objs = await renderTargets(
    svc.db,
    targets.map((t) => t.target),
    user,
  );
  const users = await partialUsersById(
    svc.db,
    rows.flatMap((r) => [r.created_by, ...(r.revoked_by !== null ? [r.revoked_by] : [])]).map(Number),
    svc.installId,
  );
  const now = Date.now();
  return rows.map((r) => {
    const mine = targets.filter((t) => t.request === r.uuid).map((t) => t.target);
    return {
      created: r.created,
      created_by: users.get(Number(r.created_by)) ?? null,
      requester_data: JSON.parse(r.requester_data || '{}'),
      fulfiller_data: JSON.parse(r.fulfiller_data || '{}'),
      revoked_by: r.revoked_by === null ? null : (users.get(Number(r.revoked_by)) ?? null),
      agent_owner: null,
      is_active: isActive(r, now),
      expires: r.expires,
      status: r.status,
      targets: mine,
      target_objs: mine.map((t) => objs.get(t)).filter(Boolean),
      uuid: r.uuid,
    };
  });
}

const requestList: ListSpec = {
  filters: {
    created_by: { type: 'int', column: 'g.created_by' },
    status: { type: 'enum', column: 'g.status', values: STATUSES },
    // (no agents: no request has an owner)
    agent_owner: {
      type: 'custom',
      schema: { type: 'integer' },
      parse: (values) => {
        const v = values[values.length - 1] ?? '';
        if (v === '') return { cond: undefined };
        if (!/^-?\d+$/.test(v.trim())) return { error: ['Enter a number.'] };
        return { cond: () => sql<boolean>`1 = 0` };
      },
    },
  },
  search: ['u.username', 'u.name', 'g.status'],
  ordering: { created: 'g.created', created_by: 'g.created_by', status: 'g.status', expires: 'g.expires', uuid: 'g.uuid' },
  defaultOrdering: ['-created'],
  pk: 'g.uuid',
};

const base = (db: DB) => db.selectFrom('grant_requests as g').innerJoin('users as u', 'u.id', 'g.created_by').selectAll('g');

/** the pbm_uuids of what the rules `caller` reviews are bound to (applications, and entitlements under them) */
async function reviewedTargets(svc: Services, caller: Caller, req: FastifyRequest): Promise<string[]> {
  const rules = (await svc.db.selectFrom('request_rules').selectAll().execute()) as RequestRulesTable[];
  const mine: string[] = [];
  for (const rule of rules) if (await isReviewer(svc, rule, caller.user, req)) mine.push(rule.uuid);
  if (!mine.length) return [];
  const bindings = await svc.db.selectFrom('request_rule_bindings').select(['uuid', 'target']).where('rule', 'in', mine).execute();
  const children = bindings.length
    ? await svc.db
        .selectFrom('request_rule_child_bindings')
        .select('target')
        .where(
          'binding',
          'in',
          bindings.map((b) => b.uuid),
        )
        .execute()
    : [];
  return [...bindings.map((b) => b.target), ...children.map((c) => c.target)];
}

/** the requests `caller` may see: all with `view_grantrequest`, else their own and those they may review */
async function visible(svc: Services, caller: Caller, req: FastifyRequest) {
  const q = base(svc.db);
  if (await hasGlobal(svc.db, caller, PERM('view'))) return q;
  const reviewed = await reviewedTargets(svc, caller, req);
  return q.where((eb) =>
    eb.or([
      eb('g.created_by', '=', caller.user.id),
      ...(reviewed.length
        ? [eb('g.uuid', 'in', eb.selectFrom('grant_request_targets').select('request').where('target', 'in', reviewed))]
        : []),
    ]),
  );
}

async function visibleRequest(svc: Services, req: FastifyRequest): Promise<{ caller: Caller; row: Row }> {
  const caller = requireCaller(req);
  const raw = (req.params as { uuid: string }).uuid;
  const notFound = NotFound.model('Grant Request');
  if (!isUuid(raw)) throw notFound;
  const row = (await (await visible(svc, caller, req)).where('g.uuid', '=', normalizeUuid(raw)).executeTakeFirst()) as Row | undefined;
  if (!row) throw notFound;
  return { caller, row };
}

/** authentik's `_assert_reviewer` with the permission it needs: may the caller act on this request as a reviewer? */
async function assertReviewer(svc: Services, caller: Caller, req: FastifyRequest, row: Row, perm: 'fulfill' | 'revoke') {
  const rules = await rulesOf(svc, await targetsOf(svc.db, row.uuid));
  let reviewer = false;
  for (const rule of rules) if (!reviewer && (await isReviewer(svc, rule, caller.user, req))) reviewer = true;
  if (!reviewer && !(await hasGlobal(svc.db, caller, PERM(perm))))
    throw new Forbidden('You do not have permission to perform this action.');
  if (rules.length && !reviewer) throw new ValidationError(['User does not have permissions to act on this object']);
}

function bodyOf(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (b === undefined || b === null) return {};
  if (typeof b !== 'object' || Array.isArray(b))
    throw new ValidationError({
      non_field_errors: [
        `Invalid data. Expected a dictionary, but got ${Array.isArray(b) ? 'list' : typeof b === 'string' ? 'str' : typeof b}.`,
      ],
    });
  return b as Record<string, unknown>;
}

/** `POST /requests/grant-requests/`: the targets checked, the request flow planned into the caller's session */
async function create(svc: Services, req: FastifyRequest, reply: FastifyReply) {
  const caller = requireCaller(req);
  const body = bodyOf(req);
  const errors: Record<string, string[]> = {};
  const pbmsRaw = body.pbms;
  let pbms: string[] = [];
  if (pbmsRaw === undefined) errors.pbms = ['This field is required.'];
  else if (!Array.isArray(pbmsRaw))
    errors.pbms = [`Expected a list of items but got type "${typeof pbmsRaw === 'string' ? 'str' : typeof pbmsRaw}".`];
  else if (!pbmsRaw.length) errors.pbms = ['This list may not be empty.'];
  else {
    for (const v of pbmsRaw)
      if (typeof v !== 'string' || !isUuid(v)) {
        errors.pbms = [`“${String(v)}” is not a valid UUID.`];
        break;
      }
    if (!errors.pbms) pbms = [...new Set(pbmsRaw.map((v: string) => normalizeUuid(v)))];
  }
  const expiry = body.expiry;
  if (expiry !== undefined && expiry !== null && expiry !== '') {
    if (typeof expiry !== 'string') errors.expiry = ['Not a valid string.'];
    else if (parseDuration(expiry) === undefined) errors.expiry = [durationError(expiry)];
    else if ((parseDuration(expiry) ?? 0) <= 0) errors.expiry = ['Ensure this duration is positive.'];
  }
  if (!errors.pbms && pbms.length) {
    const targets = await renderTargets(svc.db, pbms, caller.user);
    for (const p of pbms)
      if (!targets.has(p)) {
        errors.pbms = [`Invalid pk "${p}" - object does not exist.`];
        break;
      }
    if (!errors.pbms) {
      const allowed = await requestableOf(svc, pbms, caller.user, req);
      for (const p of pbms)
        if (!allowed.has(p)) {
          errors.pbms = [`Cannot request access to '${String(targets.get(p)?.label)}'`];
          break;
        }
    }
  }
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const granting = await grantingRuleBindings(svc, pbms, caller.user, req);
  const rules = await svc.db
    .selectFrom('request_rules')
    .select('request_flow')
    .where(
      'uuid',
      'in',
      granting.map((b) => b.rule),
    )
    .execute();
  // every granting rule naming one flow: that flow, else the brand's
  const shared = new Set(rules.map((r) => r.request_flow));
  let flowUuid = (await svc.brand(req.host)).flows.flow_request;
  if (shared.size === 1) {
    const only = [...shared][0];
    if (only) flowUuid = only;
  }
  const flow = flowUuid
    ? ((await svc.db.selectFrom('flows').selectAll().where('flow_uuid', '=', flowUuid).executeTakeFirst()) as FlowsTable | undefined)
    : undefined;
  if (!flow) throw NotFound.plain();
  const byMs = (k: 'expiry_pending' | 'expiry_granted_max') =>
    granting.reduce((a, b) => ((parseDuration(b[k]) ?? Infinity) < (parseDuration(a[k]) ?? Infinity) ? b : a))[k];
  const started = await startFlow(
    svc,
    flow,
    {
      user: caller.user,
      context: {
        grantRequest: {
          pbms,
          pendingExpiry: byMs('expiry_pending'),
          maxExpiry: byMs('expiry_granted_max'),
          requestedExpiry: typeof expiry === 'string' && expiry ? expiry : null,
        },
      },
      amend: (plan) => plan.bindings.push(grantRequestFinalBinding()),
    },
    req,
    reply,
  );
  if (!started) throw new ValidationError(['Flow does not apply to current user.']);
  return { link: `/if/flow/${encodeURIComponent(flow.slug)}/` };
}

const uuidParam = [{ name: 'uuid', schema: { type: 'string', format: 'uuid' } }];

export function mountGrantRequests(router: ApiRouter, svc: Services) {
  router.component('GrantRequest', grantRequestSchema);
  router.component('RequestableTarget', requestableTargetSchema);
  registerPaginated(router, 'GrantRequest');
  registerPaginated(router, 'RequestableTarget');
  router.component('GrantRequestCreateRequest', {
    type: 'object',
    description: "Base serializer class which doesn't implement create/update methods",
    properties: {
      pbms: { type: 'array', items: { type: 'string', format: 'uuid' } },
      expiry: {
        type: 'string',
        description:
          "Optional override for how long the grant should last once approved. Clamped to the granting rule binding(s)' expiry_granted_max.",
      },
    },
    required: ['pbms'],
  });
  router.component('PatchedGrantRequestFulfillRequest', {
    type: 'object',
    description: "Base serializer class which doesn't implement create/update methods",
    properties: {
      data: { type: 'object', additionalProperties: {} },
      status: { type: 'string', enum: [...STATUSES] },
    },
  });
  router.component('AgentGrantRequestCreateRequest', {
    type: 'object',
    properties: { pbms: { type: 'array', items: { type: 'string', format: 'uuid' } } },
    required: ['pbms'],
  });
  router.component('AgentGrantRequestCreated', {
    type: 'object',
    properties: {
      grant_request: { $ref: '#/components/schemas/GrantRequest', readOnly: true },
      fulfill_url: { type: 'string', readOnly: true },
    },
    required: ['fulfill_url', 'grant_request'],
  });
  const listQuery = listQueryParams(requestList);
  const page = async (req: FastifyRequest, q: ReturnType<typeof base>) => {
    const caller = requireCaller(req);
    return paginate(svc.db, q, requestList, req.query as Query, (rows: Row[]) => renderRequests(svc, rows, caller.user), caller);
  };
  router.route('/requests/grant-requests', {
    get: {
      doc: { operationId: 'requests_grant_requests_list', tag: 'requests', query: listQuery, response: 'PaginatedGrantRequestList' },
      handler: async (req) => page(req, await visible(svc, requireCaller(req), req)),
    },
    post: {
      doc: {
        operationId: 'requests_grant_requests_create',
        tag: 'requests',
        body: 'GrantRequestCreateRequest',
        bodyRequired: true,
        response: 'Link',
      },
      handler: (req, reply) => create(svc, req, reply),
    },
  });
  router.route(
    '/requests/grant-requests/{uuid}',
    {
      get: {
        doc: { operationId: 'requests_grant_requests_retrieve', tag: 'requests', response: 'GrantRequest' },
        handler: async (req) => {
          const { caller, row } = await visibleRequest(svc, req);
          return (await renderRequests(svc, [row], caller.user))[0];
        },
      },
      delete: {
        doc: { operationId: 'requests_grant_requests_destroy', tag: 'requests', status: 204 },
        handler: async (req, reply) => {
          const { caller, row } = await visibleRequest(svc, req);
          if (row.created_by !== caller.user.id && !(await hasGlobal(svc.db, caller, PERM('delete'))))
            throw new Forbidden('You do not have permission to perform this action.');
          if (row.status !== 'created') throw new ValidationError(['Only a pending request can be cancelled']);
          await svc.db.deleteFrom('grant_requests').where('uuid', '=', row.uuid).where('status', '=', 'created').execute();
          return reply.code(204).send();
        },
      },
    },
    uuidParam,
  );
  router.route(
    '/requests/grant-requests/{uuid}/fulfill',
    {
      patch: {
        doc: {
          operationId: 'requests_grant_requests_fulfill_partial_update',
          tag: 'requests',
          body: 'PatchedGrantRequestFulfillRequest',
          status: 204,
        },
        handler: async (req, reply) => {
          const { caller, row } = await visibleRequest(svc, req);
          const body = bodyOf(req);
          const errors: Record<string, string[]> = {};
          if (body.data === undefined) errors.data = ['This field is required.'];
          else if (typeof body.data !== 'object' || body.data === null || Array.isArray(body.data))
            errors.data = [`Expected a dictionary of items but got type "${Array.isArray(body.data) ? 'list' : typeof body.data}".`];
          if (body.status === undefined) errors.status = ['This field is required.'];
          else if (!STATUSES.includes(body.status as never)) errors.status = [`"${String(body.status)}" is not a valid choice.`];
          if (Object.keys(errors).length) throw new ValidationError(errors);
          if (caller.user.id === row.created_by) throw new ValidationError(['Cannot fulfill your own request']);
          await assertReviewer(svc, caller, req, row, 'fulfill');
          if (lapsed(row)) throw new ValidationError(['This request has expired.']);
          // (only a decision counts: `created` or `revoked` sent as a decision changes nothing, as in authentik)
          if (body.status === 'approved' || body.status === 'denied')
            await recordDecision(svc, req, row, caller.user, body.status, body.data as Record<string, unknown>);
          return reply.code(204).send();
        },
      },
    },
    uuidParam,
  );
  router.route(
    '/requests/grant-requests/{uuid}/revoke',
    {
      delete: {
        doc: { operationId: 'requests_grant_requests_revoke_destroy', tag: 'requests', status: 204 },
        handler: async (req, reply) => {
          const { caller, row } = await visibleRequest(svc, req);
          await assertReviewer(svc, caller, req, row, 'revoke');
          await revokeGrant(svc, req, row, caller.user);
          return reply.code(204).send();
        },
      },
    },
    uuidParam,
  );
  router.route('/requests/grant-requests/agent', {
    post: {
      doc: {
        operationId: 'requests_grant_requests_agent_create',
        tag: 'requests',
        body: 'AgentGrantRequestCreateRequest',
        bodyRequired: true,
        response: 'AgentGrantRequestCreated',
        status: 201,
      },
      handler: async (req) => {
        requireCaller(req);
        throw new Forbidden('Only agents can request access through this endpoint.');
      },
    },
  });
  router.route('/requests/grant-requests/pending_review', {
    get: {
      doc: {
        operationId: 'requests_grant_requests_pending_review_list',
        tag: 'requests',
        query: listQuery,
        response: 'PaginatedGrantRequestList',
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        const reviewed = await reviewedTargets(svc, caller, req);
        let q = base(svc.db).where('g.status', '=', 'created').where('g.expires', '>', new Date().toISOString());
        q = reviewed.length
          ? q.where('g.uuid', 'in', (eb) => eb.selectFrom('grant_request_targets').select('request').where('target', 'in', reviewed))
          : q.where(sql<boolean>`1 = 0`);
        return page(req, q);
      },
    },
  });
}
