/**
 * Policy-binding targets: the objects policies can be bound to (authentik's PolicyBindingModel subclasses), each
 * with its own primary key and a `pbm_uuid`. Bindings store the `pbm_uuid`; the API names a target by either and
 * shows the object's own key.
 */
import { sql } from 'kysely';
import type { DB } from '../db/index.js';

export interface BindingTarget {
  /** the target's table, its own key, and how authentik names an object of it */
  table: string;
  pk: string;
  app: string;
  model_name: string;
  describe(row: Record<string, unknown>): string;
  /** the columns `describe` needs */
  columns: string[];
  /** its policy_engine_mode column */
  mode: string;
  /** the column holding its pbm_uuid (default `pbm_uuid`; a source's own key is its pbm_uuid) */
  pbm?: string;
  /** what a binding of it may name (authentik's supported_policy_binding_targets); default policy, user or group */
  supported?: readonly BindingKind[];
}

export type BindingKind = 'policy' | 'user' | 'group';
export const ALL_BINDING_KINDS: readonly BindingKind[] = ['policy', 'user', 'group'];

export const bindingTargets: BindingTarget[] = [
  {
    table: 'flows',
    pk: 'flow_uuid',
    app: 'authentik_flows',
    model_name: 'flow',
    columns: ['name', 'slug'],
    mode: 'policy_engine_mode',
    describe: (r) => `Flow ${r.name} (${r.slug})`,
  },
  {
    table: 'applications',
    pk: 'pbm_uuid',
    app: 'authentik_core',
    model_name: 'application',
    columns: ['name'],
    mode: 'policy_engine_mode',
    describe: (r) => String(r.name),
  },
  {
    table: 'flow_bindings',
    pk: 'fsb_uuid',
    app: 'authentik_flows',
    model_name: 'flowstagebinding',
    columns: ['order', 'target'],
    mode: 'policy_engine_mode',
    describe: (r) => `Flow-stage binding #${r.order} to ${r.target}`,
  },
  {
    table: 'sources',
    pk: 'source_uuid',
    pbm: 'source_uuid',
    app: 'authentik_sources_oauth',
    model_name: 'oauthsource',
    columns: ['name'],
    mode: 'policy_engine_mode',
    describe: (r) => `OAuth Source ${r.name}`,
  },
  {
    table: 'application_entitlements',
    pk: 'pbm_uuid',
    app: 'authentik_core',
    model_name: 'applicationentitlement',
    columns: ['name'],
    mode: 'policy_engine_mode',
    describe: (r) => String(r.name),
    // an entitlement is held by users and groups: a policy bound to it would decide nothing
    supported: ['group', 'user'],
  },
  {
    table: 'provider_oauth2_dcr',
    pk: 'pbm_uuid',
    app: 'authentik_providers_oauth2',
    model_name: 'oauth2dynamicclientregistration',
    columns: ['provider_id'],
    mode: 'policy_engine_mode',
    describe: (r) => `OAuth2 Dynamic Client Registration of provider ${r.provider_id}`,
  },
  {
    table: 'request_rules',
    pk: 'uuid',
    app: 'authentik_requests',
    model_name: 'requestrule',
    columns: ['name'],
    mode: 'policy_engine_mode',
    describe: (r) => `Request Rule ${r.name}`,
  },
  {
    table: 'request_rule_bindings',
    pk: 'uuid',
    app: 'authentik_requests',
    model_name: 'requestrulebinding',
    columns: ['target'],
    mode: 'policy_engine_mode',
    describe: (r) => `Request Rule Binding to ${r.target}`,
  },
  {
    table: 'notification_rules',
    pk: 'pbm_uuid',
    app: 'authentik_events',
    model_name: 'notificationrule',
    columns: ['name'],
    mode: 'policy_engine_mode',
    describe: (r) => `Notification Rule ${r.name}`,
  },
];

export interface ResolvedTarget {
  pbm_uuid: string;
  /** the object's own primary key (what the API shows as `target`) */
  pk: string;
  app: string;
  model_name: string;
  name: string;
  mode: 'any' | 'all';
  supported: readonly BindingKind[];
}

/** the targets a value names, by their own key or their pbm_uuid */
async function find(db: DB, column: 'pk' | 'pbm_uuid', values: string[]): Promise<ResolvedTarget[]> {
  if (!values.length) return [];
  const out: ResolvedTarget[] = [];
  for (const t of bindingTargets) {
    const rows = (await db
      .selectFrom(t.table as 'flows')
      .select([
        sql.ref(t.pk).as('pk'),
        sql.ref(t.pbm ?? 'pbm_uuid').as('pbm_uuid'),
        sql.ref(t.mode).as('mode'),
        ...t.columns.map((c) => sql.ref(c).as(c)),
      ] as never[])
      .where(sql.ref(column === 'pk' ? t.pk : (t.pbm ?? 'pbm_uuid')), 'in', values)
      .execute()) as unknown as Record<string, string>[];
    for (const r of rows)
      out.push({
        pbm_uuid: r.pbm_uuid!,
        pk: r.pk!,
        app: t.app,
        model_name: t.model_name,
        name: t.describe(r),
        mode: r.mode === 'all' ? 'all' : 'any',
        supported: t.supported ?? ALL_BINDING_KINDS,
      });
  }
  return out;
}

/** the target a client named (its own key or its pbm_uuid), or undefined */
export async function resolveTarget(db: DB, value: string): Promise<ResolvedTarget | undefined> {
  return (await find(db, 'pk', [value]))[0] ?? (await find(db, 'pbm_uuid', [value]))[0];
}

/** pbm_uuid → the target (for rendering bindings and used_by) */
export async function describeTargets(db: DB, pbms: string[]): Promise<Map<string, ResolvedTarget>> {
  const found = await find(db, 'pbm_uuid', [...new Set(pbms)]);
  return new Map(found.map((t) => [t.pbm_uuid, t]));
}

/** deletes the policy bindings of targets that are being deleted (their pbm_uuids), in the caller's transaction */
export async function deleteBindingsOf(db: DB | import('../rest/resource.js').Tx, pbms: string[]): Promise<void> {
  if (pbms.length) await db.deleteFrom('policy_bindings').where('target', 'in', pbms).execute();
}

/** a stage is being deleted: the policy bindings of its flow-stage bindings (deleted with it) go too */
export async function deleteStageBindingPolicies(tx: import('../rest/resource.js').Tx, stageUuid: string): Promise<void> {
  const pbms = await tx.selectFrom('flow_bindings').select('pbm_uuid').where('stage', '=', stageUuid).execute();
  await deleteBindingsOf(
    tx,
    pbms.map((b) => b.pbm_uuid),
  );
}
