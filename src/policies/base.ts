/** What every policy type shares: the base fields, the Policy object of /policies/all/, `bound_to` and used_by. */
import { S, type Props } from '../rest/schema.js';
import type { UsedBy } from '../rest/resource.js';
import type { DB } from '../db/index.js';
import type { PolicyDef } from './types.js';
import { describeTargets } from './targets.js';

export const basePolicyProps: Props = {
  pk: S.ro(S.uuid()),
  name: S.str({ 'x-unique': { table: 'policies', column: 'name', self: 'policy_uuid', message: 'policy with this name already exists.' } }),
  execution_logging: S.bool({ default: false }),
  component: S.ro(S.text({ 'x-computed': true })),
  verbose_name: S.ro(S.text({ 'x-computed': true })),
  verbose_name_plural: S.ro(S.text({ 'x-computed': true })),
  meta_model_name: S.ro(S.text({ 'x-computed': true })),
  bound_to: S.ro(S.int({ 'x-computed': true })),
};

export const policyMeta = (def: PolicyDef) => ({
  component: def.component,
  verbose_name: def.verboseName,
  verbose_name_plural: def.verboseNamePlural,
  meta_model_name: `${def.app}.${def.kind}`,
});

/** how many bindings each policy has (authentik's `bound_to`) */
export async function boundTo(db: DB, ids: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (!ids.length) return out;
  const rows = await db
    .selectFrom('policy_bindings')
    .select(['policy', (eb) => eb.fn.countAll<number>().as('n')])
    .where('policy', 'in', ids)
    .groupBy('policy')
    .execute();
  for (const r of rows) out.set(r.policy!, Number(r.n));
  return out;
}

/** Base `Policy` objects for rows of the policies table. */
export async function renderBasePolicies(
  db: DB,
  rows: { policy_uuid: string; name: string; kind: string; execution_logging: unknown }[],
  byKind: (k: string) => PolicyDef | undefined,
) {
  const counts = await boundTo(
    db,
    rows.map((r) => r.policy_uuid),
  );
  return rows.map((r) => {
    const def = byKind(r.kind);
    return {
      pk: r.policy_uuid,
      name: r.name,
      execution_logging: r.execution_logging === true || r.execution_logging === 1,
      ...(def
        ? policyMeta(def)
        : { component: '', verbose_name: 'Policy', verbose_name_plural: 'Policies', meta_model_name: 'authentik_policies.policy' }),
      bound_to: counts.get(r.policy_uuid) ?? 0,
    };
  });
}

/** used_by of a policy: its bindings, deleted with it (authentik: `Binding from <target> #<order> to Policy <name>`) */
export async function policyUsedBy(db: DB, policy: { policy_uuid: string; name: string }): Promise<UsedBy[]> {
  const rows = await db
    .selectFrom('policy_bindings')
    .select(['policy_binding_uuid', 'target', 'order'])
    .where('policy', '=', policy.policy_uuid)
    .orderBy('order')
    .orderBy('policy_binding_uuid')
    .execute();
  const names = await describeTargets(
    db,
    rows.map((r) => r.target),
  );
  const out: UsedBy[] = rows.map((r) => ({
    app: 'authentik_policies',
    model_name: 'policybinding',
    pk: r.policy_binding_uuid,
    name: `Binding from ${names.get(r.target)?.name ?? `PolicyBindingModel ${r.target}`} #${r.order} to Policy ${policy.name}`,
    action: 'cascade',
  }));
  // prompt stages validating with it lose it (their many-to-many list; the table is the prompt stage's)
  const stages = await db
    .selectFrom(`${PROMPT_VALIDATION_POLICIES} as j` as 'stages')
    .innerJoin('stages as s', 's.stage_uuid', 'j.stage_uuid' as 'stages.stage_uuid')
    .select(['s.stage_uuid', 's.name'])
    .where('j.target' as 'stages.name', '=', policy.policy_uuid)
    .orderBy('s.name')
    .execute();
  for (const s of stages)
    out.push({
      app: 'authentik_stages_prompt',
      model_name: 'promptstage',
      pk: s.stage_uuid,
      name: `Stage ${s.name}`,
      action: 'cascade_many',
    });
  return out;
}

/** the prompt stage's list of validation policies (src/stages/prompt/schema.ts), read here by name */
export const PROMPT_VALIDATION_POLICIES = 'stage_prompt_validation_policies';

/** used_by of a policy-binding target (a flow, a flow-stage binding, …): its policy bindings, deleted with it */
export async function targetUsedBy(db: DB, pbm: string, targetName: string): Promise<UsedBy[]> {
  const rows = await db
    .selectFrom('policy_bindings as b')
    .leftJoin('policies as p', 'p.policy_uuid', 'b.policy')
    .leftJoin('groups as g', 'g.group_uuid', 'b.group')
    .leftJoin('users as u', 'u.id', 'b.user')
    .select(['b.policy_binding_uuid', 'b.order', 'p.name as policy', 'g.name as group', 'u.name as user'])
    .where('b.target', '=', pbm)
    .orderBy('b.order')
    .orderBy('b.policy_binding_uuid')
    .execute();
  return rows.map((r) => ({
    app: 'authentik_policies',
    model_name: 'policybinding',
    pk: r.policy_binding_uuid,
    name: `Binding from ${targetName} #${r.order} to ${r.policy !== null ? `Policy ${r.policy}` : r.group !== null ? `Group ${r.group}` : `User ${r.user}`}`,
    action: 'cascade',
  }));
}

/**
 * used_by of a group or a user: the policy bindings that bind it to a target, deleted with it (authentik's
 * `policybinding_set`, named `Binding from <target> #<order> to Group <name>` / `… to User <name>`)
 */
export async function subjectUsedBy(db: DB, subject: { group: string } | { user: number }, subjectName: string): Promise<UsedBy[]> {
  let q = db.selectFrom('policy_bindings').select(['policy_binding_uuid', 'target', 'order']);
  q = 'group' in subject ? q.where('group', '=', subject.group) : q.where('user', '=', subject.user);
  const rows = await q.orderBy('order').orderBy('policy_binding_uuid').execute();
  const names = await describeTargets(
    db,
    rows.map((r) => r.target),
  );
  return rows.map((r) => ({
    app: 'authentik_policies',
    model_name: 'policybinding',
    pk: r.policy_binding_uuid,
    name: `Binding from ${names.get(r.target)?.name ?? `PolicyBindingModel ${r.target}`} #${r.order} to ${'group' in subject ? 'Group' : 'User'} ${subjectName}`,
    action: 'cascade',
  }));
}
