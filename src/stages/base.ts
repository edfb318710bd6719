/**
 * What every stage type shares: the base fields, the Stage object (as embedded in bindings and /stages/all/),
 * `flow_set` rendering, and used_by. Stage types add their own fields in their folder.
 */
import { Type } from '@sinclair/typebox';
import { S, type Props } from '../rest/schema.js';
import type { UsedBy } from '../rest/resource.js';
import type { DB } from '../db/index.js';
import type { FlowsTable } from '../db/types.js';
import { renderFlowSet } from '../flows/rest/render.js';
import type { StageDef } from './types.js';

export const baseStageProps: Props = {
  pk: S.ro(S.uuid()),
  name: S.str({ 'x-unique': { table: 'stages', column: 'name', self: 'stage_uuid', message: 'stage with this name already exists.' } }),
  component: S.ro(S.text({ 'x-computed': true })),
  verbose_name: S.ro(S.text({ 'x-computed': true })),
  verbose_name_plural: S.ro(S.text({ 'x-computed': true })),
  meta_model_name: S.ro(S.text({ 'x-computed': true })),
  flow_set: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/FlowSet' }), { 'x-computed': true })),
};

export const metaOf = (def: StageDef) => ({
  component: def.component,
  verbose_name: def.verboseName,
  verbose_name_plural: def.verboseNamePlural,
  meta_model_name: `${def.app}.${def.kind}`,
});

/** flow_set for each stage id: flows it is bound to, in binding order (duplicates when bound twice, as upstream) */
export async function flowSets(db: DB, stageIds: string[]): Promise<Map<string, ReturnType<typeof renderFlowSet>[]>> {
  const map = new Map<string, ReturnType<typeof renderFlowSet>[]>();
  if (!stageIds.length) return map;
  const rows = await db
    .selectFrom('flow_bindings')
    .innerJoin('flows', 'flows.flow_uuid', 'flow_bindings.target')
    .selectAll('flows')
    .select('flow_bindings.stage')
    .where('flow_bindings.stage', 'in', stageIds)
    .orderBy('flows.slug')
    .orderBy('flow_bindings.order')
    .execute();
  for (const r of rows) {
    const list = map.get(r.stage) ?? [];
    list.push(renderFlowSet(r as FlowsTable));
    map.set(r.stage, list);
  }
  return map;
}

/** Base `Stage` objects for rows of the stages table. */
export async function renderBaseStages(
  db: DB,
  rows: { stage_uuid: string; name: string; kind: string }[],
  byKind: (k: string) => StageDef | undefined,
) {
  const sets = await flowSets(
    db,
    rows.map((r) => r.stage_uuid),
  );
  return rows.map((r) => {
    const def = byKind(r.kind);
    return {
      pk: r.stage_uuid,
      name: r.name,
      ...(def
        ? metaOf(def)
        : { component: '', verbose_name: 'Stage', verbose_name_plural: 'Stages', meta_model_name: 'authentik_flows.stage' }),
      flow_set: sets.get(r.stage_uuid) ?? [],
    };
  });
}

/** used_by of any stage: flows (cascade_many), bindings (cascade), other stages' FKs to it (set_null) */
export async function stageUsedBy(db: DB, stage: { stage_uuid: string; kind: string }, all: StageDef[]): Promise<UsedBy[]> {
  const out: UsedBy[] = [];
  const bindings = await db
    .selectFrom('flow_bindings')
    .innerJoin('flows', 'flows.flow_uuid', 'flow_bindings.target')
    .select(['flow_bindings.fsb_uuid', 'flow_bindings.order', 'flows.flow_uuid', 'flows.name', 'flows.slug'])
    .where('flow_bindings.stage', '=', stage.stage_uuid)
    .orderBy('flow_bindings.order')
    .execute();
  const seen = new Set<string>();
  for (const b of bindings) {
    if (seen.has(b.flow_uuid)) continue;
    seen.add(b.flow_uuid);
    out.push({ app: 'authentik_flows', model_name: 'flow', pk: b.flow_uuid, name: `Flow ${b.name} (${b.slug})`, action: 'cascade_many' });
  }
  for (const b of bindings)
    out.push({
      app: 'authentik_flows',
      model_name: 'flowstagebinding',
      pk: b.fsb_uuid,
      name: `Flow-stage binding #${b.order} to ${b.flow_uuid}`,
      action: 'cascade',
    });
  for (const def of all) {
    for (const [field, s] of Object.entries(def.fields)) {
      const ref = s['x-ref'] as { table: string; kind?: string } | undefined;
      if (!ref || ref.table !== 'stages' || (ref.kind && ref.kind !== stage.kind)) continue;
      const rows = await db
        .selectFrom(`${def.table} as t` as 'stages')
        .innerJoin('stages as s', 's.stage_uuid', 't.stage_uuid' as 'stages.stage_uuid')
        .select(['s.stage_uuid', 's.name'])
        .where(`t.${field}` as 'stages.name', '=', stage.stage_uuid)
        .execute();
      for (const r of rows) out.push({ app: def.app, model_name: def.kind, pk: r.stage_uuid, name: `Stage ${r.name}`, action: 'set_null' });
    }
  }
  // the stage's own many-to-many links (configuration stages, device types, sources) go with it
  const own = all.find((d) => d.kind === stage.kind);
  for (const m of Object.values(own?.m2m ?? {})) {
    const describe = FORWARD[m.target.table];
    if (!describe) continue;
    const rows = await db
      .selectFrom(`${m.table} as j` as 'stages')
      .innerJoin(`${m.target.table} as x` as 'stages', `x.${m.target.column}` as 'stages.stage_uuid', 'j.target' as 'stages.stage_uuid')
      .selectAll('x' as 'stages')
      .where('j.stage_uuid' as 'stages.stage_uuid', '=', stage.stage_uuid)
      .orderBy('j.position' as 'stages.name')
      .execute();
    for (const r of rows as unknown as Record<string, string>[])
      out.push({ ...describe(r), pk: r[m.target.column]!, action: 'cascade_many' });
  }
  return out;
}

/** how a forward many-to-many target is named in used_by (authentik's model names and __str__) */
const FORWARD: Record<string, (row: Record<string, string>) => Omit<UsedBy, 'pk' | 'action'>> = {
  stages: (r) => ({ app: 'authentik_flows', model_name: 'stage', name: `Stage ${r.name}` }),
  webauthn_device_types: (r) => ({
    app: 'authentik_stages_authenticator_webauthn',
    model_name: 'webauthndevicetype',
    name: `WebAuthn device type ${r.description} (${r.aaguid})`,
  }),
  sources: (r) => ({ app: 'authentik_core', model_name: 'source', name: r.name! }),
  stage_prompt_prompts: (r) => ({
    app: 'authentik_stages_prompt',
    model_name: 'prompt',
    name: `Prompt field '${r.field_key}' type ${r.type}`,
  }),
  policies: (r) => ({ app: 'authentik_policies', model_name: 'policy', name: r.name! }),
};
