/**
 * Application entitlements (authentik's ApplicationEntitlement, `/core/application_entitlements/`): named rights
 * within one application, each a policy-binding target. A user has an entitlement when an enabled user or group
 * binding on it names them (their groups as `User.all_groups()`: inherited ones too), or a negated one names someone
 * else or a group they are not in — authentik's `User.app_entitlements`; policies bound to an entitlement do not
 * count. The `entitlements` scope (src/propertymappings/scope.ts) and expressions' `user.app_entitlements(app)` ask
 * `entitlementsOf`.
 */
import type { ListSpec } from '../rest/list.js';
import { liveBinding } from '../policies/bindings/expiry.js';
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import { memberOf } from '../groups/membership.js';
import { targetUsedBy } from '../policies/base.js';
import { deleteBindingsOf } from '../policies/targets.js';
import { ValidationError } from '../rest/errors.js';
import { mountResource, type ResourceDef } from '../rest/resource.js';
import type { ApiRouter } from '../rest/routes.js';
import { S } from '../rest/schema.js';
import type { Services } from '../services.js';

export interface ApplicationEntitlementsTable {
  pbm_uuid: string;
  name: string;
  app: string;
  attributes: string;
  policy_engine_mode: string;
}

declare module '../db/types.js' {
  interface Database {
    application_entitlements: ApplicationEntitlementsTable;
  }
}

const entitlementProps = {
  pbm_uuid: S.ro(S.uuid({ title: 'Pbm uuid' })),
  name: S.str(),
  app: S.fk({ table: 'applications', column: 'pbm_uuid' }, { nullable: false }),
  attributes: S.obj({ default: {} }),
};

type Row = ApplicationEntitlementsTable;

const parse = (text: string): Record<string, unknown> => {
  try {
    const v = JSON.parse(text || '{}');
    return v && typeof v === 'object' && !Array.isArray(v) ? v : {};
  } catch {
    return {};
  }
};

/** the list's filters, search and ordering (the requestable list, src/requests/, offers the same) */
export const entitlementList: ListSpec = {
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

const resource: ResourceDef<Row> = {
  component: 'ApplicationEntitlement',
  model: 'Application Entitlement',
  path: '/core/application_entitlements',
  opPrefix: 'core_application_entitlements',
  tag: 'core',
  lookup: { param: 'pbm_uuid', column: 'e.pbm_uuid', rowKey: 'pbm_uuid', type: 'uuid' },
  props: entitlementProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_core.applicationentitlement', verbose: 'Application Entitlement' },
  list: entitlementList,
  select: (d) => d.selectFrom('application_entitlements as e').selectAll('e'),
  render: async (_d, rows) => rows.map((r) => ({ pbm_uuid: r.pbm_uuid, name: r.name, app: r.app, attributes: parse(r.attributes) })),
  // authentik's unique_together (app, name)
  async validate(data, ctx, existing) {
    const app = (data.app ?? existing?.app) as string | undefined;
    const name = (data.name ?? existing?.name) as string | undefined;
    if (!app || !name) return;
    let q = ctx.db.selectFrom('application_entitlements').select('pbm_uuid').where('app', '=', app).where('name', '=', name);
    if (existing) q = q.where('pbm_uuid', '<>', existing.pbm_uuid);
    if (await q.executeTakeFirst()) throw ValidationError.nonField('The fields app, name must make a unique set.');
  },
  insert: async (tx, data) => {
    const pbm_uuid = randomUUID();
    await tx
      .insertInto('application_entitlements')
      .values({
        pbm_uuid,
        name: data.name as string,
        app: data.app as string,
        attributes: JSON.stringify(data.attributes ?? {}),
        policy_engine_mode: 'any',
      })
      .execute();
    return pbm_uuid;
  },
  update: async (tx, existing, data) => {
    const set: Partial<Row> = {};
    if (data.name !== undefined) set.name = data.name as string;
    if (data.app !== undefined) set.app = data.app as string;
    if (data.attributes !== undefined) set.attributes = JSON.stringify(data.attributes);
    if (Object.keys(set).length)
      await tx.updateTable('application_entitlements').set(set).where('pbm_uuid', '=', existing.pbm_uuid).execute();
    return existing.pbm_uuid;
  },
  remove: async (tx, existing) => {
    await deleteBindingsOf(tx, [existing.pbm_uuid]);
    // (access requests name it no more; its child bindings go by cascade)
    await tx.deleteFrom('grant_request_targets').where('target', '=', existing.pbm_uuid).execute();
    await tx.deleteFrom('application_entitlements').where('pbm_uuid', '=', existing.pbm_uuid).execute();
  },
  usedBy: (d, row) => targetUsedBy(d, row.pbm_uuid, row.name),
};

export function mountApplicationEntitlements(router: ApiRouter, svc: Services) {
  mountResource(router, svc.db, resource);
}

/** the application's entitlements, as its deletion takes them: their bindings go first (the rows go by cascade) */
export async function entitlementTargetsOf(db: DB, appPbm: string): Promise<string[]> {
  return (await db.selectFrom('application_entitlements').select('pbm_uuid').where('app', '=', appPbm).execute()).map((r) => r.pbm_uuid);
}

export interface Entitlement {
  pk: string;
  name: string;
  attributes: Record<string, unknown>;
}

/** authentik's `User.app_entitlements(app)`: the entitlements of `appPbm` the user has, by name */
export async function entitlementsOf(db: DB, userId: number, appPbm: string): Promise<Entitlement[]> {
  const { rows } = await sql<{ pbm_uuid: string; name: string; attributes: string }>`${memberOf(userId)}
    select e.pbm_uuid, e.name, e.attributes from application_entitlements e
    where e.app = ${appPbm} and exists (
      select 1 from policy_bindings b
      where b.target = e.pbm_uuid and b.enabled = 1 and ${liveBinding('b')} and (
        (b.negate = 0 and (b."user" = ${userId} or b."group" in (select group_uuid from member_of)))
        or (b.negate = 1 and (
          (b."user" is not null and b."user" <> ${userId})
          or (b."group" is not null and b."group" not in (select group_uuid from member_of))
        ))
      )
    )
    order by e.name`.execute(db);
  return rows.map((r) => ({ pk: r.pbm_uuid, name: r.name, attributes: parse(r.attributes) }));
}
