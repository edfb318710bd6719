/**
 * `/lifecycle/user_offboarding/` (authentik's UserOffboardingViewSet): an offboarding is scheduled (POST), read and
 * cancelled (DELETE, which keeps the row as `canceled`), never edited (PUT and PATCH are 405: the record of what was
 * scheduled stays as it was). Scheduling checks authentik's rules: a time in the future, not one's own account, not an
 * internal service account, at most one pending per user (also when two requests race: the partial unique index
 * refuses the second, a 400 as the check's). Cancelling needs it pending and not yet under way (./execute.ts), and is
 * refused for one's own.
 */
import { Type } from '@sinclair/typebox';
import { newPk } from '../../rest/requested-pk.js';
import { Forbidden, ValidationError } from '../../rest/errors.js';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { rowToApi } from '../../rest/serialize.js';
import { S } from '../../rest/schema.js';
import type { DB } from '../../db/index.js';
import { isUniqueViolation } from '../../db/dialect.js';
import type { Services } from '../../services.js';
import { partialUsersById } from '../../users/render.js';
import { OFFBOARDING_ACTIONS, OFFBOARDING_STATUSES, type UserOffboardingsTable } from './table.js';

const DUPLICATE_PENDING = 'This user already has a pending offboarding scheduled.';

const partialUser = S.ro(Type.Unsafe({ allOf: [{ $ref: '#/components/schemas/PartialUser' }], 'x-computed': true }));

export const offboardingProps = {
  id: S.ro(S.uuid()),
  user: S.intFk({ table: 'users', column: 'id' }),
  user_obj: partialUser,
  scheduled_at: S.datetime({ description: 'Absolute time at which the offboarding action is executed.' }),
  action: S.enumOf(OFFBOARDING_ACTIONS, { default: 'deactivate' }),
  revoke_sessions: S.bool({ default: true, description: "Revoke all of the user's sessions when offboarding." }),
  revoke_tokens: S.bool({ default: true, description: "Revoke all of the user's tokens when offboarding." }),
  status: S.ro(S.enumOf(OFFBOARDING_STATUSES)),
  created_by_obj: partialUser,
  created_at: S.ro(S.datetime()),
  executed_at: S.ro(S.datetime({ nullable: true })),
};

async function render(db: DB, rows: UserOffboardingsTable[], installId: string): Promise<Record<string, unknown>[]> {
  const users = await partialUsersById(
    db,
    [...rows.map((r) => r.user_id), ...rows.flatMap((r) => (r.created_by ? [r.created_by] : []))],
    installId,
  );
  return rows.map((r) => ({
    id: r.id,
    user: r.user_id,
    user_obj: users.get(r.user_id) ?? null,
    ...rowToApi({ scheduled_at: S.datetime(), created_at: S.datetime(), executed_at: S.datetime() }, r),
    action: r.action,
    revoke_sessions: !!r.revoke_sessions,
    revoke_tokens: !!r.revoke_tokens,
    status: r.status,
    created_by_obj: (r.created_by && users.get(r.created_by)) || null,
  }));
}

function offboardingResource(svc: Services): ResourceDef<UserOffboardingsTable> {
  return {
    component: 'UserOffboarding',
    model: 'User Offboarding',
    path: '/lifecycle/user_offboarding',
    opPrefix: 'lifecycle_user_offboarding',
    tag: 'lifecycle',
    lookup: { param: 'id', column: 'o.id', rowKey: 'id', type: 'uuid' },
    props: offboardingProps,
    ops: ['list', 'create', 'retrieve', 'destroy'],
    access: { kind: 'superuser' },
    rbac: { label: 'authentik_lifecycle.useroffboarding', verbose: 'User Offboarding' },
    inBlueprints: false,
    list: {
      filters: {
        user__uuid: { type: 'uuid', column: 'u.uuid' },
        status: { type: 'enum', column: 'o.status', values: OFFBOARDING_STATUSES },
        action: { type: 'enum', column: 'o.action', values: OFFBOARDING_ACTIONS },
      },
      search: ['u.username'],
      ordering: { scheduled_at: 'o.scheduled_at', created_at: 'o.created_at', status: 'o.status' },
      defaultOrdering: ['scheduled_at'],
      pk: 'o.id',
    },
    select: (db) => db.selectFrom('user_offboardings as o').innerJoin('users as u', 'u.id', 'o.user_id').selectAll('o'),
    render: (db, rows) => render(db, rows, svc.installId),
    validate: async (data, ctx) => {
      const at = new Date(String(data.scheduled_at));
      if (!(at.getTime() > Date.now())) throw ValidationError.field('scheduled_at', 'Offboarding must be scheduled in the future.');
      const userId = Number(data.user);
      const user = await ctx.db.selectFrom('users').select(['id', 'type']).where('id', '=', userId).executeTakeFirst();
      if (user?.type === 'internal_service_account') throw ValidationError.field('user', 'Internal service accounts cannot be offboarded.');
      if (userId === ctx.caller.user.id) throw ValidationError.field('user', 'You cannot offboard your own account.');
      const pending = await ctx.db
        .selectFrom('user_offboardings')
        .select('id')
        .where('user_id', '=', userId)
        .where('status', '=', 'pending')
        .executeTakeFirst();
      if (pending) throw ValidationError.field('user', DUPLICATE_PENDING);
    },
    insert: async (tx, data, ctx) => {
      const id = newPk();
      try {
        await tx
          .insertInto('user_offboardings')
          .values({
            id,
            user_id: Number(data.user),
            scheduled_at: new Date(String(data.scheduled_at)).toISOString(),
            action: (data.action as UserOffboardingsTable['action'] | undefined) ?? 'deactivate',
            revoke_sessions: data.revoke_sessions === false ? 0 : 1,
            revoke_tokens: data.revoke_tokens === false ? 0 : 1,
            status: 'pending',
            created_by: ctx.caller.user.id,
            created_at: new Date().toISOString(),
            executed_at: null,
            started_at: null,
            attempts: 0,
          })
          .execute();
      } catch (e) {
        // (two pending offboardings of one user, scheduled at once: the partial unique index refuses the second)
        if (isUniqueViolation(e)) throw ValidationError.field('user', DUPLICATE_PENDING);
        throw e;
      }
      return id;
    },
    // a cancellation: the row stays, `canceled` (refused once under way or ended, and for one's own)
    removeKeepsRow: true,
    remove: async (tx, existing, ctx) => {
      if (existing.user_id === ctx.caller.user.id) throw new Forbidden('You cannot cancel your own offboarding.');
      const r = await tx
        .updateTable('user_offboardings')
        .set({ status: 'canceled', executed_at: new Date().toISOString() })
        .where('id', '=', existing.id)
        .where('status', '=', 'pending')
        .where('started_at', 'is', null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw new ValidationError(['Only a pending offboarding can be cancelled.']);
    },
  };
}

export function mountOffboarding(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, offboardingResource(svc));
}
