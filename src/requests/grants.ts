/**
 * Grant requests (authentik's GrantRequest with grants.py): made at the end of a request flow, decided by reviewers
 * one approval at a time, granted as an expiring policy binding of the requester on each target, revoked by ending
 * those bindings. Each change is one transaction; the decision that finalises a request is an UPDATE of a request still
 * `created`, so of two reviewers completing it at once one finalises and the other finds it decided.
 */
import type { Tx } from '../rest/resource.js';
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { linkBase } from '../brands/links.js';
import type { DB } from '../db/index.js';
import type { UsersTable } from '../db/types.js';
import { eventById, newNotification, sendOrRecord, summary } from '../events/notifications/send.js';
import { liveBinding } from '../policies/bindings/expiry.js';
import { parseDuration } from '../rest/duration.js';
import type { Services } from '../services.js';
import { isSatisfied, reviewersOf, rulesOf } from './eligibility.js';
import type { GrantRequestsTable } from './table.js';
import { lockConfigEpoch } from '../db/config-epoch.js';

export type RequestStatus = 'created' | 'approved' | 'denied' | 'revoked';

/** the order of the policy bindings a grant adds (authentik's) */
const GRANT_ORDER = 1000;

const eventUser = (u: UsersTable) => ({ pk: u.id, username: u.username, email: u.email });

/** the request as events name it (authentik's `model_to_dict`) */
const modelOf = (uuid: string) => ({ app: 'authentik_requests', model_name: 'grantrequest', pk: uuid, name: `Grant Request ${uuid}` });

/** the targets as events name them */
async function targetRefs(db: DB, pbms: string[]) {
  if (!pbms.length) return [];
  const apps = await db.selectFrom('applications').select(['pbm_uuid', 'name']).where('pbm_uuid', 'in', pbms).execute();
  const ents = await db.selectFrom('application_entitlements').select(['pbm_uuid', 'name']).where('pbm_uuid', 'in', pbms).execute();
  return [
    ...apps.map((a) => ({ app: 'authentik_core', model_name: 'application', pk: a.pbm_uuid, name: a.name })),
    ...ents.map((e) => ({ app: 'authentik_core', model_name: 'applicationentitlement', pk: e.pbm_uuid, name: e.name })),
  ];
}

/** where a reviewer decides (authentik's `fulfill_url`: the user interface's page of the request) */
export async function fulfillUrl(svc: Services, req: FastifyRequest, uuid: string): Promise<string> {
  return `${(await linkBase(svc, req)) ?? ''}/if/user/#/requests/access-request/${uuid}/fulfill`;
}

export const targetsOf = async (db: DB, uuid: string): Promise<string[]> =>
  (await db.selectFrom('grant_request_targets').select('target').where('request', '=', uuid).orderBy('uuid').execute()).map(
    (t) => t.target,
  );

/**
 * authentik's `create_grant_request`: the request and its targets, the `access_request_created` event (with the
 * fulfil link) in the same transaction; then, after the request's work (authentik: a task), each rule's reviewers
 * notified through its transports.
 */
export async function createGrantRequest(
  svc: Services,
  req: FastifyRequest,
  r: { createdBy: UsersTable; pbms: string[]; requesterData: Record<string, unknown>; pendingMs: number; grantedExpiry: string },
): Promise<string> {
  const uuid = randomUUID();
  const now = new Date();
  const link = await fulfillUrl(svc, req, uuid);
  const brand = await svc.events.brandFor(req);
  const refs = await targetRefs(svc.db, r.pbms);
  let eventId = '';
  await svc.db.transaction().execute(async (tx) => {
    await tx
      .insertInto('grant_requests')
      .values({
        uuid,
        created_by: r.createdBy.id,
        fulfilled_by: null,
        revoked_by: null,
        requester_data: JSON.stringify(r.requesterData),
        fulfiller_data: '{}',
        status: 'created',
        requested_expiry: r.grantedExpiry,
        expiring: 1,
        expires: new Date(now.getTime() + r.pendingMs).toISOString(),
        created: now.toISOString(),
        last_updated: now.toISOString(),
      })
      .execute();
    for (const target of new Set(r.pbms))
      await tx.insertInto('grant_request_targets').values({ uuid: randomUUID(), request: uuid, target, binding: null }).execute();
    eventId = await svc.events.emit(
      'access_request_created',
      {
        user: eventUser(r.createdBy),
        req,
        brand,
        context: { model: modelOf(uuid), targets: refs, hyperlink: link, hyperlink_label: 'Fulfill' },
      },
      tx as unknown as DB,
    );
  });
  // after the request's work, as the notification rules' dispatch: a slow transport never holds the flow up
  setImmediate(() => {
    notifyReviewers(svc, r.pbms, eventId).catch((e) => req.log.error({ err: e }, 'access request notification failed'));
  });
  return uuid;
}

/** authentik's `notify_reviewers`: each rule's transports, to its recipients by `notification_mode`; failures recorded */
async function notifyReviewers(svc: Services, pbms: string[], eventId: string): Promise<void> {
  const rules = await rulesOf(svc, pbms);
  if (!rules.length) return;
  const event = await eventById(svc.db, eventId);
  if (!event) return;
  for (const rule of rules) {
    const transports = await svc.db
      .selectFrom('request_rule_transports as l')
      .innerJoin('notification_transports as t', 't.uuid', 'l.transport')
      .selectAll('t')
      .where('l.rule', '=', rule.uuid)
      .orderBy('t.name')
      .execute();
    if (!transports.length) continue;
    let recipients = await reviewersOf(svc, rule);
    if (rule.notification_mode === 'direct') {
      const direct = await svc.db
        .selectFrom('policy_bindings')
        .select('user')
        .where('target', '=', rule.pbm_uuid)
        .where('enabled', '=', 1 as never)
        .where('user', 'is not', null)
        .where(liveBinding())
        .execute();
      const ids = new Set(direct.map((d) => Number(d.user)));
      recipients = recipients.filter((u) => ids.has(u.id));
    } else if (rule.notification_mode === 'random_min_reviewers') {
      recipients = [...recipients].sort(() => Math.random() - 0.5).slice(0, Number(rule.min_reviewers));
    }
    for (const user of recipients)
      for (const transport of transports) await sendOrRecord(svc, transport, newNotification('notice', summary(event), user, event));
  }
}

/** a pending request whose time ran out (it can no longer be decided) */
export const lapsed = (r: Pick<GrantRequestsTable, 'status' | 'expiring' | 'expires'>, now = Date.now()) =>
  r.status === 'created' && !!r.expiring && !!r.expires && Date.parse(r.expires) <= now;

/** authentik's `is_active`: approved, and its grant not over */
export const isActive = (r: Pick<GrantRequestsTable, 'status' | 'expiring' | 'expires'>, now = Date.now()) =>
  r.status === 'approved' && !(r.expiring && r.expires && Date.parse(r.expires) < now);

/**
 * authentik's `record_approval`: the reviewer's decision is kept (one per reviewer, the last one counts); a denial
 * decides the request, an approval decides it once every rule of its targets is satisfied. Nothing happens to a
 * request already decided, nor for its own requester.
 */
export async function recordDecision(
  svc: Services,
  req: FastifyRequest,
  request: GrantRequestsTable,
  reviewer: UsersTable,
  status: 'approved' | 'denied',
  data: Record<string, unknown>,
): Promise<void> {
  if (request.created_by === reviewer.id) return;
  const now = new Date().toISOString();
  const targets = await targetsOf(svc.db, request.uuid);
  // (read before the transaction, which holds SQLite's one connection)
  const told = status === 'denied' ? await toldOf(svc, req, targets) : undefined;
  const open = await svc.db.transaction().execute(async (tx) => {
    // (takes the request's row first: decisions on one request queue up)
    const still = await tx
      .updateTable('grant_requests')
      .set({ last_updated: now })
      .where('uuid', '=', request.uuid)
      .where('status', '=', 'created')
      .executeTakeFirst();
    if (Number(still.numUpdatedRows) === 0) return false;
    await tx
      .insertInto('grant_request_approvals')
      .values({
        uuid: randomUUID(),
        request: request.uuid,
        reviewer: reviewer.id,
        status,
        attributes: JSON.stringify(data),
        created: now,
        last_updated: now,
      })
      .onConflict((oc) => oc.columns(['request', 'reviewer']).doUpdateSet({ status, attributes: JSON.stringify(data), last_updated: now }))
      .execute();
    // a denial decides the request with it: no approval committed meanwhile can decide it otherwise
    if (told) await decide(svc, req, tx, request, reviewer, 'denied', data, told);
    return true;
  });
  if (!open || told) return;
  if (!(await isSatisfied(svc, request.uuid, targets))) return;
  const approvedTold = await toldOf(svc, req, targets);
  // (the approval writes policy bindings, a configuration table: the admin-write lock first)
  await svc.db.transaction().execute(async (tx) => {
    await lockConfigEpoch(tx);
    await decide(svc, req, tx, request, reviewer, 'approved', data, approvedTold);
  });
}

/** what the decision's event names: the request's brand and targets */
async function toldOf(svc: Services, req: FastifyRequest, targets: string[]) {
  return { brand: await svc.events.brandFor(req), refs: await targetRefs(svc.db, targets) };
}

/** the request decided, in `tx`, unless it was decided meanwhile: an approval binds the requester to each target */
async function decide(
  svc: Services,
  req: FastifyRequest,
  tx: Tx,
  request: GrantRequestsTable,
  reviewer: UsersTable,
  status: 'approved' | 'denied',
  data: Record<string, unknown>,
  told: Awaited<ReturnType<typeof toldOf>>,
): Promise<void> {
  const now = new Date();
  const grantEnds = new Date(now.getTime() + (parseDuration(request.requested_expiry) ?? 3_600_000)).toISOString();
  const decided = await tx
    .updateTable('grant_requests')
    .set({
      status,
      fulfilled_by: reviewer.id,
      fulfiller_data: JSON.stringify(data),
      last_updated: now.toISOString(),
      // an approved request lasts as long as its grant (`is_active`)
      ...(status === 'approved' ? { expiring: 1, expires: grantEnds } : {}),
    })
    .where('uuid', '=', request.uuid)
    .where('status', '=', 'created')
    .executeTakeFirst();
  if (Number(decided.numUpdatedRows) === 0) return;
  if (status === 'approved')
    for (const t of await tx.selectFrom('grant_request_targets').select(['uuid', 'target']).where('request', '=', request.uuid).execute()) {
      const binding = randomUUID();
      await tx
        .insertInto('policy_bindings')
        .values({
          policy_binding_uuid: binding,
          target: t.target,
          policy: null,
          group: null,
          user: request.created_by,
          negate: 0,
          enabled: 1,
          order: GRANT_ORDER,
          timeout: 30,
          failure_result: 0,
          expiring: 1,
          expires: grantEnds,
        })
        .execute();
      await tx.updateTable('grant_request_targets').set({ binding }).where('uuid', '=', t.uuid).execute();
    }
  await svc.events.emit(
    status === 'approved' ? 'access_request_approved' : 'access_request_denied',
    { user: eventUser(reviewer), req, brand: told.brand, context: { model: modelOf(request.uuid), targets: told.refs } },
    tx as unknown as DB,
  );
}

/** authentik's `revoke`: an approved request's bindings end now, the request is `revoked`; anything else is left alone */
export async function revokeGrant(svc: Services, req: FastifyRequest, request: GrantRequestsTable, by: UsersTable): Promise<void> {
  const now = new Date().toISOString();
  const targets = await targetsOf(svc.db, request.uuid);
  const brand = await svc.events.brandFor(req);
  const refs = await targetRefs(svc.db, targets);
  await svc.db.transaction().execute(async (tx) => {
    await lockConfigEpoch(tx);
    const revoked = await tx
      .updateTable('grant_requests')
      .set({ status: 'revoked', revoked_by: by.id, last_updated: now })
      .where('uuid', '=', request.uuid)
      .where('status', '=', 'approved')
      .executeTakeFirst();
    if (Number(revoked.numUpdatedRows) === 0) return;
    const bindings = await tx
      .selectFrom('grant_request_targets')
      .select('binding')
      .where('request', '=', request.uuid)
      .where('binding', 'is not', null)
      .execute();
    const ids = bindings.map((b) => String(b.binding));
    if (ids.length)
      await tx.updateTable('policy_bindings').set({ expiring: 1, expires: now }).where('policy_binding_uuid', 'in', ids).execute();
    await svc.events.emit(
      'access_request_revoked',
      { user: eventUser(by), req, brand, context: { model: modelOf(request.uuid), targets: refs } },
      tx as unknown as DB,
    );
  });
}
