/**
 * Who may ask for what, and who may decide (authentik's `granting_rule_bindings`, `user_can_request`,
 * `RequestRule.reviewers_among` and `GrantRequest.is_satisfied`):
 *
 * - a rule binding grants the right to ask for its application and for the entitlements bound under it to whoever
 *   passes its policy bindings (a binding without any: the system settings' `core_default_app_access`, as an
 *   application without bindings);
 * - a rule's reviewers are whoever passes the rule's own policy bindings (a rule without any has no reviewer);
 * - a request's rules are those bound to one of its targets; it is satisfied when every one of them is (an approval by
 *   a user bound to the rule directly is enough, else `min_reviewers` approvers in all, or from each bound group with
 *   `min_reviewers_is_per_group`; reviewers a policy passes count as well); a request no rule applies to takes one
 *   approval.
 */
import type { FastifyRequest } from 'fastify';
import type { UsersTable } from '../db/types.js';
import { selfAndDescendants } from '../groups/membership.js';
import { systemSettings } from '../instance/system-settings/store.js';
import { liveBinding } from '../policies/bindings/expiry.js';
import { httpOf } from '../policies/request.js';
import type { Services } from '../services.js';
import type { RequestRuleBindingsTable, RequestRulesTable } from './table.js';

const objOf = (app: string, model_name: string, pk: string, name: string) => ({ app, model_name, pk, name });

/** the rule bindings of any of `pbms` (as their target, or as an entitlement under them) whose policies `user` passes */
export async function grantingRuleBindings(
  svc: Services,
  pbms: string[],
  user: UsersTable,
  req: FastifyRequest | undefined,
): Promise<RequestRuleBindingsTable[]> {
  if (!pbms.length) return [];
  const candidates = (await svc.db
    .selectFrom('request_rule_bindings as b')
    .selectAll('b')
    .where((eb) =>
      eb.or([
        eb('b.target', 'in', pbms),
        eb('b.uuid', 'in', eb.selectFrom('request_rule_child_bindings').select('binding').where('target', 'in', pbms)),
      ]),
    )
    .orderBy('b.uuid')
    .execute()) as RequestRuleBindingsTable[];
  if (!candidates.length) return [];
  const emptyResult = (await systemSettings(svc.db)).flags.core_default_app_access;
  const out: RequestRuleBindingsTable[] = [];
  for (const b of candidates) {
    const verdict = await svc.policies.check({
      target: b.pbm_uuid,
      mode: b.policy_engine_mode === 'all' ? 'all' : 'any',
      request: {
        user,
        ...(req ? { http: httpOf(req) } : {}),
        obj: objOf('authentik_requests', 'requestrulebinding', b.uuid, `Request Rule Binding ${b.uuid}`),
        context: {},
        debug: false,
      },
      emptyResult,
    });
    if (verdict.passing) out.push(b);
  }
  return out;
}

/** of `candidates` (applications' and entitlements' pbm_uuids), those `user` may request */
export async function requestableOf(
  svc: Services,
  candidates: string[],
  user: UsersTable,
  req: FastifyRequest | undefined,
): Promise<Set<string>> {
  const granting = await grantingRuleBindings(svc, candidates, user, req);
  const granted = new Set(granting.map((b) => b.target).filter((t) => candidates.includes(t)));
  if (granting.length) {
    const children = await svc.db
      .selectFrom('request_rule_child_bindings')
      .select('target')
      .where(
        'binding',
        'in',
        granting.map((b) => b.uuid),
      )
      .where('target', 'in', candidates)
      .execute();
    for (const c of children) granted.add(c.target);
  }
  return granted;
}

/**
 * the rules bound to any of `pbms`, as their binding's target or an entitlement under it (authentik's
 * `RequestRule.objects.filter(targets__in=…)` looks at targets only, which leaves a request for an entitlement with
 * no reviewer but a global permission holder; here the rule that made it requestable decides it)
 */
export async function rulesOf(svc: Services, pbms: string[]): Promise<RequestRulesTable[]> {
  if (!pbms.length) return [];
  return (await svc.db
    .selectFrom('request_rules as r')
    .selectAll('r')
    .where('r.uuid', 'in', (eb) =>
      eb
        .selectFrom('request_rule_bindings as b')
        .select('b.rule')
        .where((w) =>
          w.or([
            w('b.target', 'in', pbms),
            w('b.uuid', 'in', w.selectFrom('request_rule_child_bindings').select('binding').where('target', 'in', pbms)),
          ]),
        ),
    )
    .orderBy('r.name')
    .execute()) as RequestRulesTable[];
}

/** may `user` decide on requests under `rule`? (its bindings; none: nobody) */
export async function isReviewer(svc: Services, rule: RequestRulesTable, user: UsersTable, req?: FastifyRequest): Promise<boolean> {
  const verdict = await svc.policies.check({
    target: rule.pbm_uuid,
    mode: rule.policy_engine_mode === 'all' ? 'all' : 'any',
    request: {
      user,
      ...(req ? { http: httpOf(req) } : {}),
      obj: objOf('authentik_requests', 'requestrule', rule.uuid, rule.name),
      context: {},
      debug: false,
    },
    emptyResult: false,
  });
  return verdict.passing;
}

/** the reviewers of a rule among `users` */
export async function reviewersAmong(svc: Services, rule: RequestRulesTable, users: UsersTable[]): Promise<UsersTable[]> {
  const out: UsersTable[] = [];
  for (const u of users) if (await isReviewer(svc, rule, u)) out.push(u);
  return out;
}

/** the enabled user and group bindings of a rule (who is bound directly; which groups count) */
async function boundTo(svc: Services, rule: RequestRulesTable): Promise<{ users: Set<number>; groups: string[] }> {
  const live = await svc.db
    .selectFrom('policy_bindings')
    .select(['user', 'group'])
    .where('target', '=', rule.pbm_uuid)
    .where('enabled', '=', 1 as never)
    .where(liveBinding())
    .execute();
  return {
    users: new Set(live.filter((r) => r.user !== null).map((r) => Number(r.user))),
    groups: live.filter((r) => r.group !== null).map((r) => String(r.group)),
  };
}

/** authentik's `_rule_satisfied`: do these approvers satisfy the rule? */
async function ruleSatisfied(svc: Services, rule: RequestRulesTable, approvers: UsersTable[]): Promise<boolean> {
  const passing = await reviewersAmong(svc, rule, approvers);
  if (!passing.length) return false;
  const bound = await boundTo(svc, rule);
  if (passing.some((u) => bound.users.has(u.id))) return true;
  const min = Number(rule.min_reviewers);
  // (authentik answers false for a rule without group bindings, so a rule whose reviewers a policy decides could
  // never be satisfied: here its reviewers count towards `min_reviewers` as a group's members do)
  if (!bound.groups.length || !rule.min_reviewers_is_per_group) return passing.length >= min;
  for (const group of bound.groups) {
    const members = await svc.db
      .selectFrom('user_groups')
      .select('user_id')
      .where('group_uuid', '=', group)
      .where(
        'user_id',
        'in',
        passing.map((u) => u.id),
      )
      .execute();
    if (members.length < min) return false;
  }
  return true;
}

/** authentik's `is_satisfied`: every rule of the request's targets satisfied by its approvals so far */
export async function isSatisfied(svc: Services, requestUuid: string, targets: string[]): Promise<boolean> {
  const approvers = (await svc.db
    .selectFrom('grant_request_approvals as a')
    .innerJoin('users as u', 'u.id', 'a.reviewer')
    .selectAll('u')
    .where('a.request', '=', requestUuid)
    .where('a.status', '=', 'approved')
    .execute()) as UsersTable[];
  const rules = await rulesOf(svc, targets);
  if (!rules.length) return approvers.length > 0;
  for (const rule of rules) if (!(await ruleSatisfied(svc, rule, approvers))) return false;
  return true;
}

/**
 * every reviewer of a rule (who a new request notifies): the users and the members of the groups bound to it, or —
 * when a policy is bound to it, which may pass anyone — every active user, each checked as `isReviewer` does
 */
export async function reviewersOf(svc: Services, rule: RequestRulesTable): Promise<UsersTable[]> {
  const live = await svc.db
    .selectFrom('policy_bindings')
    .select(['policy', 'user', 'group'])
    .where('target', '=', rule.pbm_uuid)
    .where('enabled', '=', 1 as never)
    .where(liveBinding())
    .execute();
  if (!live.length) return [];
  let users: UsersTable[];
  if (live.some((r) => r.policy !== null)) {
    users = (await svc.db
      .selectFrom('users')
      .selectAll()
      .where('is_active', '=', 1 as never)
      .orderBy('id')
      .execute()) as UsersTable[];
  } else {
    const ids = new Set(live.filter((r) => r.user !== null).map((r) => Number(r.user)));
    for (const r of live)
      if (r.group !== null) {
        const groups = [...(await selfAndDescendants(svc.db, String(r.group)))];
        for (const m of await svc.db.selectFrom('user_groups').select('user_id').where('group_uuid', 'in', groups).execute())
          ids.add(Number(m.user_id));
      }
    users = ids.size
      ? ((await svc.db
          .selectFrom('users')
          .selectAll()
          .where('id', 'in', [...ids])
          .orderBy('id')
          .execute()) as UsersTable[])
      : [];
  }
  return reviewersAmong(svc, rule, users);
}
