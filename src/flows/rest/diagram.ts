/**
 * The flow's Mermaid diagram, as authentik's FlowDiagram draws it (flows/api/flows_diagram.py): the authentication
 * requirement, the flow's own policies (pre-flow), each stage binding's policies before its stage with the "Policy
 * passed" and "Policy denied" edges, and the end. Bindings the caller may not view are left out
 * (get_objects_for_user on view_policybinding and view_flowstagebinding).
 */
import type { DB } from '../../db/index.js';
import type { FlowsTable } from '../../db/types.js';
import { policyTypeByKind } from '../../policies/registry.js';
import { can, type Subject } from '../../rbac/check.js';
import { stageTypeByKind } from '../../stages/registry.js';

type Style = readonly [string, string];
const BOX: Style = ['[', ']'];
const SUB: Style = ['[[', ']]'];
const HEX: Style = ['{{', '}}'];
const PILL: Style = ['([', '])'];

/** authentik's DiagramElement: a node, and the edges into it from each of its sources */
interface Element {
  id: string;
  description: string;
  /** null: no edge; '': a plain edge; otherwise the edge's label */
  action: string | null;
  sources: Element[];
  style: Style;
}

const el = (id: string, description: string, action: string | null = null, sources: Element[] = [], style = BOX): Element => ({
  id,
  description,
  action,
  sources,
  style,
});

function render(e: Element): string {
  let node = `${e.id}${e.style[0]}"${e.description.replaceAll('"', '#quot;')}"${e.style[1]}`;
  if (e.action !== null) node = e.action !== '' ? `--${e.action}--> ${node}` : `--> ${node}`;
  return e.sources.length ? e.sources.map((s) => `${s.id} ${node}`).join('\n') : node;
}

const END = 'End of the flow';

export async function flowDiagram(db: DB, caller: Subject, flow: FlowsTable): Promise<string> {
  const viewable = async <T>(rows: T[], perm: string, pk: (r: T) => string) => {
    const out: T[] = [];
    for (const r of rows) if (await can(db, caller, perm, pk(r))) out.push(r);
    return out;
  };
  const policiesOf = async (target: string) =>
    viewable(
      await db
        .selectFrom('policy_bindings')
        .innerJoin('policies', 'policies.policy_uuid', 'policy_bindings.policy')
        .select(['policy_bindings.policy_binding_uuid', 'policy_bindings.order', 'policies.name', 'policies.kind'])
        .where('policy_bindings.target', '=', target)
        .orderBy('policy_bindings.order')
        .execute(),
      'authentik_policies.view_policybinding',
      (r) => r.policy_binding_uuid,
    );
  const policyLabel = (p: { kind: string; name: string }) => `Policy (${policyTypeByKind(p.kind)?.verboseName ?? 'Policy'})\n${p.name}`;

  const all: (string | Element)[] = ['graph TD'];
  if (flow.authentication !== 'none') {
    const auth = el('flow_auth_requirement', `Flow authentication requirement\n${flow.authentication}`);
    all.push(auth, el('done', END, 'Requirement not fulfilled', [auth], SUB));
    all.push(el('flow_start', 'placeholder', 'Requirement fulfilled', [auth]));
  }

  const pre = el('flow_pre', 'Pre-flow policies', null, [], SUB);
  const flowPolicies = (await policiesOf(flow.pbm_uuid)).map((p, i) =>
    el(`flow_policy_${i}`, policyLabel(p), `Binding ${p.order}`, [pre], HEX),
  );
  if (flowPolicies.length) all.push(pre, ...flowPolicies, el('done', END, 'Policy denied', flowPolicies, SUB));
  const start = el('flow_start', `Flow\n${flow.name}`, flowPolicies.length ? '' : null, flowPolicies, SUB);
  all.push(start);

  const bindings = await viewable(
    await db
      .selectFrom('flow_bindings')
      .innerJoin('stages', 'stages.stage_uuid', 'flow_bindings.stage')
      .select(['flow_bindings.fsb_uuid', 'flow_bindings.pbm_uuid', 'stages.name', 'stages.kind'])
      .where('flow_bindings.target', '=', flow.flow_uuid)
      .orderBy('flow_bindings.order')
      .execute(),
    'authentik_flows.view_flowstagebinding',
    (r) => r.fsb_uuid,
  );
  const stages: Element[] = [];
  const elements: Element[] = [];
  let parents = [start];
  for (const [s, binding] of bindings.entries()) {
    // a stage's policies come before it: they run first
    const stagePolicies = (await policiesOf(binding.pbm_uuid)).map((p, i) =>
      el(`stage_${s}_policy_${i}`, policyLabel(p), '', parents, HEX),
    );
    elements.push(...stagePolicies);
    const verbose = stageTypeByKind(binding.kind)?.verboseName ?? 'Stage';
    const stage = el(`stage_${s}`, `Stage (${verbose})\n${binding.name}`, stagePolicies.length ? 'Policy passed' : '', stagePolicies, PILL);
    stages.push(stage);
    parents = [stage];
    // a denied policy of the stage before leads here (added afterwards: authentik cannot look ahead)
    const last = stages[s - 1];
    if (last) for (const source of last.sources) elements.push(el(stage.id, stage.description, 'Policy denied', [source], stage.style));
  }
  const lastStage = stages.at(-1);
  all.push(...stages, ...elements, el('done', END, '', [lastStage ?? start], SUB));
  return all.map((x) => (typeof x === 'string' ? x : render(x))).join('\n');
}
