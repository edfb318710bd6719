/**
 * `/lifecycle/iterations/` and `/lifecycle/reviews/` (authentik's IterationViewSet and ReviewViewSet):
 *
 * - `GET iterations/open/`: the open (pending or overdue) iterations, newest first (`ordering` by `state`,
 *   `content_type__model`, `rule__name`, `opened_on`, `grace_period_end`), `user_is_reviewer` narrowing to those the
 *   caller reviews; `GET iterations/latest/{content_type}/{object_id}/`: the latest iteration of the object under each
 *   rule. Someone holding `view_lifecycleiteration` (superusers) sees every iteration, anyone else those they review.
 * - `POST reviews/ {"iteration", "note"}`: the caller's review of an iteration they may review (else authentik's 400 on
 *   `iteration`); the review completing the rule's requirements marks the iteration reviewed (./reviews.ts).
 * - `POST iterations/`: iterations are opened by rules; the request is refused with a 400 saying so (authentik's
 *   serializer has no writable field besides `content_type`, and its create fails).
 */
import type { FastifyRequest } from 'fastify';
import type { SqlBool } from 'kysely';
import type { DB } from '../../db/index.js';
import { isUniqueViolation } from '../../db/dialect.js';
import { partialGroupsById } from '../../groups/render.js';
import { groupsOf } from '../../groups/membership.js';
import { registerModel } from '../../rbac/catalogue.js';
import { hasGlobal } from '../../rbac/check.js';
import { requireCaller, type Caller } from '../../rest/auth.js';
import { ValidationError } from '../../rest/errors.js';
import { paginate, parseBool, type ListSpec, type Query } from '../../rest/list.js';
import { registerPaginated } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { isUuid, normalizeUuid } from '../../rest/validate.js';
import { randomUUID } from 'node:crypto';
import type { Services } from '../../services.js';
import { partialUsersById } from '../../users/render.js';
import { gracePeriodEnd, isReviewer, linksOf, nextReviewDate, submitReview } from './reviews.js';
import {
  ITERATION_STATES,
  REVIEWABLE,
  type LifecycleIterationsTable,
  type LifecycleReviewsTable,
  type LifecycleRulesTable,
  type Reviewable,
} from './table.js';
import { type ReviewTarget, targetsByPk } from './targets.js';
import { lastValue } from '../../rest/routes.js';

const VIEW = 'authentik_lifecycle.view_lifecycleiteration';

const ref = (c: string) => ({ $ref: `#/components/schemas/${c}` });
const ro = (s: Record<string, unknown>) => ({ ...s, readOnly: true });

function components(router: ApiRouter) {
  router.component('ContentTypeEnum', { type: 'string', enum: [...REVIEWABLE] });
  router.component('LifecycleIterationStateEnum', { type: 'string', enum: [...ITERATION_STATES] });
  router.component('Review', {
    type: 'object',
    properties: {
      id: ro({ type: 'string', format: 'uuid' }),
      iteration: { type: 'string', format: 'uuid' },
      reviewer: ro({ allOf: [ref('PartialUser')] }),
      timestamp: ro({ type: 'string', format: 'date-time' }),
      note: { type: 'string', nullable: true },
    },
    required: ['id', 'iteration', 'reviewer', 'timestamp'],
  });
  router.component('ReviewRequest', {
    type: 'object',
    properties: { iteration: { type: 'string', format: 'uuid' }, note: { type: 'string', nullable: true, minLength: 1 } },
    required: ['iteration'],
  });
  router.component('RelatedRule', {
    type: 'object',
    properties: {
      id: { type: 'string', format: 'uuid' },
      name: { type: 'string' },
      reviewer_groups: ro({ type: 'array', items: ref('PartialGroup') }),
      min_reviewers: ro({ type: 'integer' }),
      reviewers: ro({ type: 'array', items: ref('PartialUser') }),
    },
    required: ['min_reviewers', 'name', 'reviewer_groups', 'reviewers'],
  });
  router.component('LifecycleIteration', {
    type: 'object',
    properties: {
      id: ro({ type: 'string', format: 'uuid' }),
      content_type: ref('ContentTypeEnum'),
      object_id: ro({ type: 'string' }),
      object_verbose: ro({ type: 'string' }),
      object_admin_url: ro({ type: 'string' }),
      state: ro({ allOf: [ref('LifecycleIterationStateEnum')] }),
      opened_on: ro({ type: 'string', format: 'date-time' }),
      grace_period_end: ro({ type: 'string', format: 'date-time' }),
      next_review_date: ro({ type: 'string', format: 'date-time' }),
      reviews: ro({ type: 'array', items: ref('Review') }),
      rule: ro({ allOf: [ref('RelatedRule')] }),
      user_can_review: ro({ type: 'boolean' }),
    },
    required: [
      'content_type',
      'grace_period_end',
      'id',
      'next_review_date',
      'object_admin_url',
      'object_id',
      'object_verbose',
      'opened_on',
      'reviews',
      'rule',
      'state',
      'user_can_review',
    ],
  });
  router.component('LifecycleIterationRequest', {
    type: 'object',
    properties: { content_type: ref('ContentTypeEnum') },
    required: ['content_type'],
  });
  registerPaginated(router, 'LifecycleIteration');
}

async function renderReviews(db: DB, rows: LifecycleReviewsTable[], installId: string) {
  const users = await partialUsersById(
    db,
    rows.map((r) => Number(r.reviewer)),
    installId,
  );
  return rows.map((r) => ({
    id: r.id,
    iteration: r.iteration,
    reviewer: users.get(Number(r.reviewer)) ?? null,
    timestamp: new Date(r.timestamp).toISOString(),
    note: r.note,
  }));
}

async function renderIterations(db: DB, rows: LifecycleIterationsTable[], caller: Caller, installId: string) {
  const ids = rows.map((r) => r.id);
  const reviews = ids.length
    ? ((await db
        .selectFrom('lifecycle_reviews')
        .selectAll()
        .where('iteration', 'in', ids)
        .orderBy('timestamp')
        .execute()) as LifecycleReviewsTable[])
    : [];
  const rendered = await renderReviews(db, reviews, installId);
  // each rule once: its row, its reviewers as shown, and whether the caller is one of them
  const rules = new Map<string, { rule: LifecycleRulesTable; shown: Record<string, unknown>; callerReviews: boolean } | undefined>();
  for (const id of new Set(rows.flatMap((r) => (r.rule ? [r.rule] : [])))) {
    const rule = await db.selectFrom('lifecycle_rules').selectAll().where('id', '=', id).executeTakeFirst();
    if (!rule) continue;
    const links = await linksOf(db, id);
    const callerReviews = await isReviewer(db, links, caller.user.id);
    rules.set(id, {
      rule,
      callerReviews,
      shown: {
        id: rule.id,
        name: rule.name,
        reviewer_groups: [...(await partialGroupsById(db, links.groups)).values()],
        min_reviewers: Number(rule.min_reviewers),
        reviewers: [...(await partialUsersById(db, links.reviewers, installId)).values()],
      },
    });
  }
  const targets = new Map<string, ReviewTarget>();
  for (const type of new Set(rows.map((r) => r.content_type)))
    for (const [pk, t] of await targetsByPk(
      db,
      type,
      rows.filter((r) => r.content_type === type).map((r) => r.object_id),
    ))
      targets.set(`${type}:${pk}`, t);
  return rows.map((r) => {
    const ruled = r.rule ? rules.get(r.rule) : undefined;
    const target = targets.get(`${r.content_type}:${r.object_id}`);
    const given = rendered.filter((v) => v.iteration === r.id);
    const opened = new Date(r.opened_on);
    return {
      id: r.id,
      content_type: r.content_type,
      object_id: r.object_id,
      object_verbose: target?.name ?? r.object_id,
      object_admin_url: target?.adminUrl ?? '',
      state: r.state,
      opened_on: opened.toISOString(),
      grace_period_end: (ruled ? gracePeriodEnd(r.opened_on, ruled.rule) : opened).toISOString(),
      next_review_date: (ruled ? nextReviewDate(r.opened_on, ruled.rule) : opened).toISOString(),
      reviews: given,
      rule: ruled?.shown ?? null,
      // as `canReview`: open, a reviewer, not reviewed yet
      user_can_review:
        (r.state === 'PENDING' || r.state === 'OVERDUE') &&
        !!ruled?.callerReviews &&
        !reviews.some((v) => v.iteration === r.id && Number(v.reviewer) === caller.user.id),
    };
  });
}

/** a condition on `i.rule`: the caller reviews under the rule (named, or a member of a reviewer group) */
async function reviewsUnder(db: DB, userId: number) {
  const groups = [...(await groupsOf(db, userId))];
  return (eb: any): SqlBool =>
    eb.or([
      eb.exists(
        eb
          .selectFrom('lifecycle_rule_reviewers as lu')
          .select('lu.rule')
          .whereRef('lu.rule', '=', 'i.rule')
          .where('lu.user_id', '=', userId),
      ),
      ...(groups.length
        ? [
            eb.exists(
              eb
                .selectFrom('lifecycle_rule_reviewer_groups as lg')
                .select('lg.rule')
                .whereRef('lg.rule', '=', 'i.rule')
                .where('lg.group_uuid', 'in', groups),
            ),
          ]
        : []),
    ]);
}

const iterationList: ListSpec = {
  filters: {},
  search: [],
  ordering: {
    state: 'i.state',
    content_type__model: 'i.content_type',
    rule__name: 'r.name',
    opened_on: 'i.opened_on',
    // (the grace period is per rule: its end orders as the opening does within one)
    grace_period_end: 'i.opened_on',
  },
  defaultOrdering: ['-opened_on'],
  pk: 'i.id',
};

export function mountReviewRoutes(router: ApiRouter, svc: Services) {
  const db = svc.db;
  registerModel({ label: 'authentik_lifecycle.lifecycleiteration', verbose: 'lifecycle iteration' });
  registerModel({ label: 'authentik_lifecycle.review', verbose: 'review' });
  components(router);

  /** the iterations the caller may see: every one with the permission, else those they review */
  const visible = async (caller: Caller, q: Query) => {
    let base = db.selectFrom('lifecycle_iterations as i').leftJoin('lifecycle_rules as r', 'r.id', 'i.rule').selectAll('i');
    const mine = await reviewsUnder(db, caller.user.id);
    if (!caller.superuser && !(await hasGlobal(db, caller, VIEW))) base = base.where(mine as never);
    const only = q.user_is_reviewer === undefined ? undefined : parseBool(String(lastValue(q.user_is_reviewer)));
    if (only === true) base = base.where(mine as never);
    if (only === false) base = base.where((eb) => eb.not(mine(eb) as never));
    return base;
  };
  const userIsReviewer = { name: 'user_is_reviewer', schema: { type: 'boolean' } };

  router.route('/lifecycle/iterations', {
    post: {
      doc: {
        operationId: 'lifecycle_iterations_create',
        tag: 'lifecycle',
        body: 'LifecycleIterationRequest',
        bodyRequired: true,
        response: 'LifecycleIteration',
        status: 201,
      },
      handler: async (req) => {
        requireCaller(req);
        throw ValidationError.nonField('Iterations are opened by lifecycle rules: create or change a rule to start a review.');
      },
    },
  });
  router.route('/lifecycle/iterations/open', {
    get: {
      doc: {
        operationId: 'lifecycle_iterations_list_open',
        tag: 'lifecycle',
        query: [
          { name: 'ordering', schema: { type: 'string' } },
          { name: 'page', schema: { type: 'integer' } },
          { name: 'page_size', schema: { type: 'integer' } },
          { name: 'search', schema: { type: 'string' } },
          userIsReviewer,
        ],
        response: 'PaginatedLifecycleIterationList',
      },
      handler: async (req) => {
        const caller = requireCaller(req);
        const q = req.query as Query;
        const base = (await visible(caller, q)).where('i.state', 'in', ['PENDING', 'OVERDUE']);
        return paginate(
          db,
          base as never,
          iterationList,
          q,
          (rows: LifecycleIterationsTable[]) => renderIterations(db, rows, caller, svc.installId),
          caller,
        );
      },
    },
  });
  router.route(
    '/lifecycle/iterations/latest/{content_type}/{object_id}',
    {
      get: {
        doc: {
          operationId: 'lifecycle_iterations_list_latest',
          tag: 'lifecycle',
          query: [{ name: 'ordering', schema: { type: 'string' } }, { name: 'search', schema: { type: 'string' } }, userIsReviewer],
          response: { type: 'array', items: ref('LifecycleIteration') },
        },
        handler: async (req) => {
          const caller = requireCaller(req);
          const { content_type, object_id } = req.params as { content_type: string; object_id: string };
          if (!(REVIEWABLE as readonly string[]).includes(content_type))
            throw ValidationError.field('content_type', `"${content_type}" is not a valid choice.`);
          const rows = (await (
            await visible(caller, req.query as Query)
          )
            .where('i.content_type', '=', content_type as Reviewable)
            .where('i.object_id', '=', object_id)
            .orderBy('i.opened_on', 'desc')
            .execute()) as LifecycleIterationsTable[];
          // the latest of each rule (a rule deleted since: its latest too)
          const seen = new Set<string>();
          const latest = rows.filter((r) => {
            const key = r.rule ?? `none:${r.id}`;
            if (seen.has(key)) return false;
            seen.add(key);
            return true;
          });
          return renderIterations(db, latest, caller, svc.installId);
        },
      },
    },
    [
      { name: 'content_type', schema: { type: 'string', pattern: '^[^/]+$' } },
      { name: 'object_id', schema: { type: 'string', pattern: '^[^/]+$' } },
    ],
  );
  router.route('/lifecycle/reviews', {
    post: {
      doc: {
        operationId: 'lifecycle_reviews_create',
        tag: 'lifecycle',
        body: 'ReviewRequest',
        bodyRequired: true,
        response: 'Review',
        status: 201,
      },
      handler: async (req: FastifyRequest, reply) => {
        const caller = requireCaller(req);
        const body = (req.body ?? {}) as Record<string, unknown>;
        const iterationId = body.iteration;
        if (iterationId === undefined || iterationId === null) throw ValidationError.field('iteration', 'This field is required.');
        if (typeof iterationId !== 'string' || !isUuid(iterationId))
          throw ValidationError.field('iteration', `“${String(iterationId)}” is not a valid UUID.`);
        const note = body.note;
        if (note !== undefined && note !== null && (typeof note !== 'string' || note === ''))
          throw ValidationError.field('note', typeof note === 'string' ? 'This field may not be blank.' : 'Not a valid string.');
        const iteration = (await db
          .selectFrom('lifecycle_iterations')
          .selectAll()
          .where('id', '=', normalizeUuid(iterationId))
          .executeTakeFirst()) as LifecycleIterationsTable | undefined;
        if (!iteration) throw ValidationError.field('iteration', `Invalid pk "${iterationId}" - object does not exist.`);
        const refused = () => ValidationError.field('iteration', 'You are not allowed to submit a review for this object.');
        const review: LifecycleReviewsTable = {
          id: randomUUID(),
          iteration: iteration.id,
          reviewer: caller.user.id,
          timestamp: new Date().toISOString(),
          note: (note as string | null | undefined) ?? null,
        };
        try {
          await submitReview(svc, iteration, review, { req, user: caller.user }, refused, (err) =>
            req.log.warn({ err }, 'access review: notifying the reviewers failed'),
          );
        } catch (e) {
          // (the same reviewer twice at once: the unique index refuses the second)
          if (isUniqueViolation(e)) throw refused();
          throw e;
        }
        reply.code(201);
        return (await renderReviews(db, [review], svc.installId))[0];
      },
    },
  });
}
