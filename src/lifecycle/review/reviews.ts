/**
 * Access reviews as authentik's LifecycleRule and LifecycleIteration decide them:
 *
 * - `applyRule` (authentik's `LifecycleRule.apply`, run daily and after a rule's save): the rule's open iterations of
 *   objects it no longer covers are cancelled, pending ones past the grace period become overdue (`review_overdue`,
 *   reviewers alerted), and every object it covers without an iteration opened within the interval gets a new one
 *   (`review_initiated`, reviewers notified). One transaction holding the rule's row, so two nodes applying a rule at
 *   once open each iteration once; the notifications go out after it commits.
 * - who reviews: the rule's reviewers and the members of its reviewer groups (a member of a descendant group is a
 *   member); who may still review an open iteration: any of them who has not yet.
 * - `isSatisfied`: every reviewer named has reviewed, and `min_reviewers` members of the reviewer groups have (of all
 *   of them together, or of each with `min_reviewers_is_per_group`).
 *
 * Dates: an iteration is overdue from the start of the day (UTC) its grace period ends, and the next one is opened
 * from the start of the day its interval ends, as authentik's `start_of_day`.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { DB } from '../../db/index.js';
import type { UsersTable } from '../../db/types.js';
import type { EventRequest } from '../../events/events.js';
import { eventById, newNotification, sendOrRecord, summary } from '../../events/notifications/send.js';
import type { NotificationTransportsTable } from '../../events/notifications/table.js';
import { isMember, selfAndDescendants } from '../../groups/membership.js';
import { parseDuration } from '../../rest/duration.js';
import type { Services } from '../../services.js';
import type { IterationState, LifecycleIterationsTable, LifecycleReviewsTable, LifecycleRulesTable } from './table.js';
import { linkFor, type ReviewTarget, targetsByPk, targetsOf, typeInfo } from './targets.js';

const OPEN: IterationState[] = ['PENDING', 'OVERDUE'];
const DAY = 86_400_000;

/** authentik's `start_of_day` (UTC) */
export const startOfDay = (ms: number) => {
  const d = new Date(ms);
  d.setUTCHours(0, 0, 0, 0);
  return d;
};

const durationMs = (v: string) => parseDuration(v) ?? 0;

export const gracePeriodEnd = (openedOn: string, rule: Pick<LifecycleRulesTable, 'grace_period'>) =>
  startOfDay(Date.parse(openedOn) + durationMs(rule.grace_period));
export const nextReviewDate = (openedOn: string, rule: Pick<LifecycleRulesTable, 'interval'>) =>
  startOfDay(Date.parse(openedOn) + durationMs(rule.interval));

export interface RuleLinks {
  reviewers: number[];
  groups: string[];
  transports: string[];
}

export async function linksOf(db: DB, ruleId: string): Promise<RuleLinks> {
  const [reviewers, groups, transports] = await Promise.all([
    db.selectFrom('lifecycle_rule_reviewers').select('user_id').where('rule', '=', ruleId).execute(),
    db.selectFrom('lifecycle_rule_reviewer_groups').select('group_uuid').where('rule', '=', ruleId).execute(),
    db.selectFrom('lifecycle_rule_transports').select('transport').where('rule', '=', ruleId).execute(),
  ]);
  return {
    reviewers: reviewers.map((r) => Number(r.user_id)),
    groups: groups.map((g) => g.group_uuid),
    transports: transports.map((t) => t.transport),
  };
}

/** authentik's `get_reviewers`: the reviewers named and every member of the reviewer groups (descendant groups too) */
export async function reviewersOf(db: DB, links: RuleLinks): Promise<UsersTable[]> {
  const ids = new Set(links.reviewers);
  for (const g of links.groups) {
    const groups = [...(await selfAndDescendants(db, g))];
    for (const m of await db.selectFrom('user_groups').select('user_id').where('group_uuid', 'in', groups).execute())
      ids.add(Number(m.user_id));
  }
  if (!ids.size) return [];
  return (await db
    .selectFrom('users')
    .selectAll()
    .where('id', 'in', [...ids])
    .orderBy('id')
    .execute()) as UsersTable[];
}

/**
 * whether `userId` may review the iteration now: it is open, they have not reviewed it, and they are a reviewer —
 * named, or a member of a reviewer group. (authentik asks only the groups when a rule has any, so a reviewer named
 * beside groups could never review while `isSatisfied` waits for them; here either makes one a reviewer.)
 */
export async function canReview(
  db: DB,
  iteration: Pick<LifecycleIterationsTable, 'id' | 'state' | 'rule'>,
  userId: number,
): Promise<boolean> {
  if (!OPEN.includes(iteration.state) || !iteration.rule) return false;
  const reviewed = await db
    .selectFrom('lifecycle_reviews')
    .select('id')
    .where('iteration', '=', iteration.id)
    .where('reviewer', '=', userId)
    .executeTakeFirst();
  if (reviewed) return false;
  return isReviewer(db, await linksOf(db, iteration.rule), userId);
}

/** whether `userId` reviews under a rule: named, or a member of one of its reviewer groups */
export async function isReviewer(db: DB, links: RuleLinks, userId: number): Promise<boolean> {
  if (links.reviewers.includes(userId)) return true;
  for (const g of links.groups) if (await isMember(db, userId, g)) return true;
  return false;
}

/** authentik's `is_satisfied_for_iteration` */
export async function isSatisfied(db: DB, rule: LifecycleRulesTable, iterationId: string): Promise<boolean> {
  const links = await linksOf(db, rule.id);
  const reviewed = new Set(
    (await db.selectFrom('lifecycle_reviews').select('reviewer').where('iteration', '=', iterationId).execute()).map((r) =>
      Number(r.reviewer),
    ),
  );
  if (links.reviewers.some((u) => !reviewed.has(u))) return false;
  if (!links.groups.length) return true;
  const min = Number(rule.min_reviewers);
  const membersOf = async (g: string) => {
    const below = [...(await selfAndDescendants(db, g))];
    const rows = await db.selectFrom('user_groups').select('user_id').where('group_uuid', 'in', below).execute();
    return new Set(rows.map((r) => Number(r.user_id)).filter((u) => reviewed.has(u)));
  };
  if (rule.min_reviewers_is_per_group) {
    for (const g of links.groups) if ((await membersOf(g)).size < min) return false;
    return true;
  }
  const all = new Set<number>();
  for (const g of links.groups) for (const u of await membersOf(g)) all.add(u);
  return all.size >= min;
}

type ReviewEvent = 'review_initiated' | 'review_overdue' | 'review_completed';

/** the event of an iteration's step, as authentik's `_get_event_args` (in `tx` when given) */
async function recordStep(
  svc: Services,
  action: ReviewEvent,
  iteration: Pick<LifecycleIterationsTable, 'id' | 'content_type'>,
  target: ReviewTarget,
  tx?: DB,
  by?: { req: EventRequest; user: UsersTable },
): Promise<string> {
  const t = typeInfo(iteration.content_type);
  const [app, model_name] = iteration.content_type.split('.') as [string, string];
  const message =
    action === 'review_initiated'
      ? `Access review is due for ${t.verbose.toLowerCase()} ${target.name}`
      : action === 'review_overdue'
        ? `Access review is overdue for ${t.verbose} ${target.name}`
        : `Access review completed for ${t.verbose} ${target.name}`;
  return svc.events.emit(
    action,
    {
      ...(by ? { req: by.req, user: { pk: by.user.id, username: by.user.username, email: by.user.email } } : {}),
      context: {
        message,
        target: { app, model_name, pk: target.pk, name: target.name },
        hyperlink: linkFor(target),
        hyperlink_label: `Go to ${t.verbose.toLowerCase()}`,
        lifecycle_iteration: iteration.id,
      },
    },
    tx,
  );
}

type Told = { event: string; severity: 'notice' | 'alert' };

/**
 * authentik's `notify_reviewers` for each event: each transport of the rule to each reviewer (once for a `send_once`
 * transport); the rule's transports and reviewers read once for all the events
 */
async function notifyReviewers(svc: Services, ruleId: string, told: Told[]): Promise<void> {
  if (!told.length) return;
  const links = await linksOf(svc.db, ruleId);
  if (!links.transports.length) return;
  const transports = (await svc.db
    .selectFrom('notification_transports')
    .selectAll()
    .where('uuid', 'in', links.transports)
    .orderBy('name')
    .execute()) as NotificationTransportsTable[];
  const reviewers = await reviewersOf(svc.db, links);
  for (const t of told) {
    const event = await eventById(svc.db, t.event);
    if (!event) continue;
    for (const transport of transports)
      for (const user of reviewers) {
        await sendOrRecord(svc, transport, newNotification(t.severity, summary(event), user, event));
        if (transport.send_once) break;
      }
  }
}

export interface Applied {
  canceled: number;
  overdue: number;
  started: number;
}

/** authentik's `LifecycleRule.apply` (see the module's comment) */
export async function applyRule(svc: Services, ruleId: string, now = Date.now()): Promise<Applied | undefined> {
  const told: Told[] = [];
  const applied = await svc.db.transaction().execute(async (tx) => {
    // (the rule's row taken: another node applying it waits, then sees the iterations this one opened)
    const rule = await tx
      .updateTable('lifecycle_rules')
      .set({ name: sql<string>`name` })
      .where('id', '=', ruleId)
      .returningAll()
      .executeTakeFirst();
    if (!rule) return undefined;
    const canceled = await tx
      .updateTable('lifecycle_iterations')
      .set({ state: 'CANCELED' })
      .where('rule', '=', rule.id)
      .where('state', 'in', OPEN)
      .where((eb) =>
        eb.or([eb('content_type', '!=', rule.content_type), ...(rule.object_id ? [eb('object_id', '!=', rule.object_id)] : [])]),
      )
      .executeTakeFirst();
    const overdueBefore = startOfDay(now + DAY - durationMs(rule.grace_period)).toISOString();
    const late = await tx
      .selectFrom('lifecycle_iterations')
      .selectAll()
      .where('rule', '=', rule.id)
      .where('state', '=', 'PENDING')
      .where('opened_on', '<', overdueBefore)
      .execute();
    const lateTargets = await targetsByPk(
      tx,
      rule.content_type,
      late.map((i) => i.object_id),
    );
    for (const it of late) {
      await tx.updateTable('lifecycle_iterations').set({ state: 'OVERDUE' }).where('id', '=', it.id).execute();
      const target = lateTargets.get(it.object_id) ?? { pk: it.object_id, name: it.object_id, adminUrl: '' };
      told.push({ event: await recordStep(svc, 'review_overdue', it, target, tx), severity: 'alert' });
    }
    const recentFrom = startOfDay(now + DAY - durationMs(rule.interval)).toISOString();
    const recent = new Set(
      (
        await tx
          .selectFrom('lifecycle_iterations')
          .select('object_id')
          .where('rule', '=', rule.id)
          .where('opened_on', '>=', recentFrom)
          .execute()
      ).map((r) => r.object_id),
    );
    let started = 0;
    for (const target of await targetsOf(tx, rule.content_type, rule.object_id)) {
      if (recent.has(target.pk)) continue;
      const iteration = {
        id: randomUUID(),
        content_type: rule.content_type,
        object_id: target.pk,
        rule: rule.id,
        state: 'PENDING' as const,
      };
      await tx
        .insertInto('lifecycle_iterations')
        .values({ ...iteration, opened_on: new Date(now).toISOString() })
        .execute();
      told.push({ event: await recordStep(svc, 'review_initiated', iteration, target, tx), severity: 'notice' });
      started++;
    }
    return { canceled: Number(canceled.numUpdatedRows), overdue: late.length, started };
  });
  await notifyReviewers(svc, ruleId, told);
  return applied;
}

/**
 * A review given, in one transaction: the iteration's row is taken first, so reviews of one iteration take turns and
 * the last sees every other; the reviewer may review (`canReview`, else `refused`); the review is stored; and when it
 * satisfies the rule, authentik's `on_review`: the iteration is reviewed (`review_completed`) — once. Reviewers are
 * notified after the commit; a failure there is logged, the review stands.
 */
export async function submitReview(
  svc: Services,
  iteration: LifecycleIterationsTable,
  review: LifecycleReviewsTable,
  by: { req: EventRequest; user: UsersTable },
  refused: () => Error,
  warn: (err: unknown) => void,
): Promise<void> {
  const completed = await svc.db.transaction().execute(async (tx) => {
    await tx
      .updateTable('lifecycle_iterations')
      .set((eb) => ({ state: eb.ref('state') }))
      .where('id', '=', iteration.id)
      .execute();
    const current = (await tx.selectFrom('lifecycle_iterations').selectAll().where('id', '=', iteration.id).executeTakeFirst()) as
      | LifecycleIterationsTable
      | undefined;
    if (!current || !(await canReview(tx, current, by.user.id))) throw refused();
    await tx.insertInto('lifecycle_reviews').values(review).execute();
    if (!current.rule) return undefined;
    const rule = await tx.selectFrom('lifecycle_rules').selectAll().where('id', '=', current.rule).executeTakeFirst();
    if (!rule || !(await isSatisfied(tx, rule, current.id))) return undefined;
    const target = (await targetsByPk(tx, current.content_type, [current.object_id])).get(current.object_id) ?? {
      pk: current.object_id,
      name: current.object_id,
      adminUrl: '',
    };
    const done = await tx
      .updateTable('lifecycle_iterations')
      .set({ state: 'REVIEWED' })
      .where('id', '=', current.id)
      .where('state', 'in', OPEN)
      .executeTakeFirst();
    if (Number(done.numUpdatedRows) !== 1) return undefined;
    return { ruleId: rule.id, event: await recordStep(svc, 'review_completed', current, target, tx, by) };
  });
  if (completed) await notifyReviewers(svc, completed.ruleId, [{ event: completed.event, severity: 'notice' }]).catch(warn);
}
