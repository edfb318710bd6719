/**
 * `/lifecycle/rules/` (authentik's LifecycleRuleViewSet): what is reviewed (a type — applications, groups, roles —
 * or one object of it), how often (`interval`), how late a review may be before it is overdue (`grace_period`), who
 * reviews (`reviewers` by uuid, `reviewer_groups`, `min_reviewers`, `min_reviewers_is_per_group`) and how reviewers
 * are told (`notification_transports`). authentik's checks and messages: the object must exist, a reviewer or a
 * reviewer group must be set, the grace period may not be longer than the interval. A save applies the rule at once
 * (a task, ./tasks.ts); a deletion cancels its open iterations, which stay as records.
 */
import { Type } from '@sinclair/typebox';
import { type SqlBool, sql } from 'kysely';
import type { DB } from '../../db/index.js';
import { partialGroupsById } from '../../groups/render.js';
import { parseDuration } from '../../rest/duration.js';
import { ValidationError } from '../../rest/errors.js';
import { newPk } from '../../rest/requested-pk.js';
import { mountResource, type ResourceDef, type Tx } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { S } from '../../rest/schema.js';
import type { Services } from '../../services.js';
import { enqueue } from '../../tasks/queue.js';
import { partialUsersById } from '../../users/render.js';
import { linksOf } from './reviews.js';
import { APPLY_RULE } from './tasks.js';
import { REVIEWABLE, type LifecycleRulesTable, type Reviewable } from './table.js';
import { targetsOf, typeInfo } from './targets.js';

const objs = (component: string) => S.ro(Type.Array(Type.Unsafe({ $ref: `#/components/schemas/${component}` }), { 'x-computed': true }));

export const ruleProps = {
  id: S.ro(S.uuid()),
  name: S.str({
    'x-unique': { table: 'lifecycle_rules', column: 'name', self: 'id', message: 'lifecycle rule with this name already exists.' },
  }),
  content_type: S.enumOf(REVIEWABLE),
  object_id: S.nullable(S.str({ default: null })),
  interval: S.duration({ default: 'days=60' }),
  grace_period: S.duration({ default: 'days=30' }),
  reviewer_groups: S.m2m({ table: 'groups', column: 'group_uuid' }, { default: [], 'x-m2m-table': true }),
  reviewer_groups_obj: objs('PartialGroup'),
  min_reviewers: S.int({ minimum: 0, maximum: 32767, default: 1 }),
  min_reviewers_is_per_group: S.bool({ default: false }),
  reviewers: S.m2m({ table: 'users', column: 'uuid' }, { 'x-m2m-table': true }),
  reviewers_obj: objs('PartialUser'),
  notification_transports: S.m2m(
    { table: 'notification_transports', column: 'uuid' },
    {
      default: [],
      'x-m2m-table': true,
      description:
        'Select which transports should be used to notify the reviewers. If none are selected, the notification will only be shown in the authentik UI.',
    },
  ),
  target_verbose: S.ro(S.text({ 'x-computed': true })),
};

async function render(db: DB, rows: LifecycleRulesTable[], installId: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const r of rows) {
    const links = await linksOf(db, r.id);
    const users = await partialUsersById(db, links.reviewers, installId);
    const uuids = links.reviewers.length
      ? (await db.selectFrom('users').select('uuid').where('id', 'in', links.reviewers).execute()).map((u) => u.uuid)
      : [];
    const groups = await partialGroupsById(db, links.groups);
    const t = typeInfo(r.content_type);
    const object = r.object_id ? (await targetsOf(db, r.content_type, r.object_id))[0] : undefined;
    out.push({
      id: r.id,
      name: r.name,
      content_type: r.content_type,
      object_id: r.object_id,
      interval: r.interval,
      grace_period: r.grace_period,
      reviewer_groups: [...links.groups].sort(),
      reviewer_groups_obj: [...groups.values()].sort((a, b) => a.name.localeCompare(b.name)),
      min_reviewers: Number(r.min_reviewers),
      min_reviewers_is_per_group: !!r.min_reviewers_is_per_group,
      reviewers: uuids.sort(),
      reviewers_obj: [...users.values()].sort((a, b) => a.username.localeCompare(b.username)),
      notification_transports: [...links.transports].sort(),
      target_verbose: r.object_id ? `${t.verbose}: ${object?.name ?? r.object_id}` : t.plural,
    });
  }
  return out;
}

async function setLinks(tx: Tx, rule: string, data: Record<string, unknown>) {
  if (Array.isArray(data.reviewers)) {
    await tx.deleteFrom('lifecycle_rule_reviewers').where('rule', '=', rule).execute();
    const uuids = [...new Set(data.reviewers as string[])];
    const users = uuids.length ? await tx.selectFrom('users').select('id').where('uuid', 'in', uuids).execute() : [];
    for (const u of users) await tx.insertInto('lifecycle_rule_reviewers').values({ rule, user_id: u.id }).execute();
  }
  if (Array.isArray(data.reviewer_groups)) {
    await tx.deleteFrom('lifecycle_rule_reviewer_groups').where('rule', '=', rule).execute();
    for (const g of new Set(data.reviewer_groups as string[]))
      await tx.insertInto('lifecycle_rule_reviewer_groups').values({ rule, group_uuid: g }).execute();
  }
  if (Array.isArray(data.notification_transports)) {
    await tx.deleteFrom('lifecycle_rule_transports').where('rule', '=', rule).execute();
    for (const t of new Set(data.notification_transports as string[]))
      await tx.insertInto('lifecycle_rule_transports').values({ rule, transport: t }).execute();
  }
}

function columns(data: Record<string, unknown>): Partial<LifecycleRulesTable> {
  const set: Partial<LifecycleRulesTable> = {};
  for (const k of ['name', 'content_type', 'interval', 'grace_period', 'min_reviewers'] as const)
    if (data[k] !== undefined) (set as Record<string, unknown>)[k] = data[k];
  if ('object_id' in data) set.object_id = (data.object_id as string | null) || null;
  if (data.min_reviewers_is_per_group !== undefined) set.min_reviewers_is_per_group = data.min_reviewers_is_per_group ? 1 : 0;
  return set;
}

function ruleResource(svc: Services): ResourceDef<LifecycleRulesTable> {
  const apply = async (id: string | number) => {
    await enqueue(svc.db, {
      actor: APPLY_RULE,
      uid: `${APPLY_RULE}:${id}`,
      relObj: { app_label: 'authentik_lifecycle', model: 'lifecyclerule', id: String(id) },
    });
    svc.tasks?.kick();
  };
  return {
    component: 'LifecycleRule',
    model: 'lifecycle rule',
    path: '/lifecycle/rules',
    opPrefix: 'lifecycle_rules',
    tag: 'lifecycle',
    lookup: { param: 'id', column: 'r.id', rowKey: 'id', type: 'uuid' },
    props: ruleProps,
    ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_lifecycle.lifecyclerule', verbose: 'lifecycle rule' },
    inBlueprints: false,
    list: {
      filters: {
        // the model part of `content_type` (authentik's `content_type__model`)
        content_type__model: {
          type: 'custom',
          parse: (values) => {
            const v = values.at(-1) ?? '';
            const types = REVIEWABLE.filter((t) => t.split('.')[1] === v);
            return { cond: v === '' ? undefined : (eb) => (types.length ? eb('r.content_type', 'in', types) : sql<SqlBool>`1 = 0`) };
          },
        },
      },
      search: ['r.content_type'],
      // authentik's search fields: content_type__model, reviewer_groups__name, reviewers__username
      searchQuery: (search) => {
        const pat = `%${search.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
        const like = (column: string) => sql<SqlBool>`lower(${sql.ref(column)}) like ${pat} escape '\\'`;
        return (eb) =>
          eb.or([
            like('r.content_type'),
            eb.exists(
              eb
                .selectFrom('lifecycle_rule_reviewer_groups as lg')
                .innerJoin('groups as g', 'g.group_uuid', 'lg.group_uuid')
                .select('lg.rule')
                .whereRef('lg.rule', '=', 'r.id')
                .where(like('g.name')),
            ),
            eb.exists(
              eb
                .selectFrom('lifecycle_rule_reviewers as lu')
                .innerJoin('users as u', 'u.id', 'lu.user_id')
                .select('lu.rule')
                .whereRef('lu.rule', '=', 'r.id')
                .where(like('u.username')),
            ),
          ]);
      },
      ordering: { name: 'r.name', content_type__model: 'r.content_type' },
      defaultOrdering: ['name'],
      pk: 'r.id',
    },
    select: (db) => db.selectFrom('lifecycle_rules as r').selectAll('r'),
    render: (db, rows) => render(db, rows, svc.installId),
    validate: async (data, ctx, existing) => {
      const type = (data.content_type ?? existing?.content_type) as Reviewable;
      if (data.object_id === '') data.object_id = null;
      const objectId = 'object_id' in data ? (data.object_id as string | null) : existing?.object_id;
      if (objectId && type && !(await targetsOf(ctx.db, type, objectId)).length)
        throw ValidationError.field('object_id', 'Object does not exist');
      if ('reviewer_groups' in data || 'reviewers' in data) {
        const links = existing ? await linksOf(ctx.db, existing.id) : undefined;
        const groups = (data.reviewer_groups as string[] | undefined) ?? links?.groups ?? [];
        const reviewers = (data.reviewers as string[] | undefined) ?? links?.reviewers ?? [];
        if (!groups.length && !reviewers.length) throw ValidationError.nonField('Either a reviewer group or a reviewer must be set.');
      }
      if ('grace_period' in data || 'interval' in data) {
        const grace = (data.grace_period as string | undefined) ?? existing?.grace_period;
        const interval = (data.interval as string | undefined) ?? existing?.interval;
        if (grace && interval && (parseDuration(grace) ?? 0) > (parseDuration(interval) ?? 0))
          throw ValidationError.field('grace_period', 'Grace period must be shorter than the interval.');
      }
    },
    insert: async (tx, data) => {
      const id = newPk();
      await tx
        .insertInto('lifecycle_rules')
        .values({
          id,
          name: String(data.name),
          content_type: data.content_type as Reviewable,
          object_id: null,
          interval: 'days=60',
          grace_period: 'days=30',
          min_reviewers: 1,
          min_reviewers_is_per_group: 0,
          ...columns(data),
        })
        .execute();
      await setLinks(tx, id, data);
      return id;
    },
    update: async (tx, existing, data) => {
      const set = columns(data);
      if (Object.keys(set).length) await tx.updateTable('lifecycle_rules').set(set).where('id', '=', existing.id).execute();
      await setLinks(tx, existing.id, data);
      return existing.id;
    },
    afterWrite: (key) => apply(key),
    remove: async (tx, existing) => {
      // its open iterations are cancelled and kept (authentik's pre_delete), the rule gone from them
      await tx
        .updateTable('lifecycle_iterations')
        .set({ state: 'CANCELED' })
        .where('rule', '=', existing.id)
        .where('state', 'in', ['PENDING', 'OVERDUE'])
        .execute();
      await tx.updateTable('lifecycle_iterations').set({ rule: null }).where('rule', '=', existing.id).execute();
      await tx.deleteFrom('lifecycle_rules').where('id', '=', existing.id).execute();
    },
  };
}

export function mountRules(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, ruleResource(svc));
}
