/**
 * A flow as a blueprint, as authentik's FlowExporter (authentik/blueprints/v1/exporter.py): the flow, the prompts
 * of its prompt stages, the policies bound to it or its bindings (and prompt stages' validation policies), its
 * stages, its stage bindings, then its policy bindings. Each object is what the API shows, without read-only
 * fields and empty values (authentik's `get_attrs`); write-only secrets never leave.
 *
 * One difference: a policy binding names its target with `!KeyOf` of the flow's or stage binding's entry instead of
 * the raw policy binding model pk, so the file also applies to an instance where those objects get new pks.
 */
import type { FastifyRequest } from 'fastify';
import type { DB } from '../db/index.js';
import type { WritableModel } from '../rest/resource.js';
import { readableKeys, writableKeys } from '../rest/schema.js';
import { stageTypeByKind } from '../stages/registry.js';
import { policyTypeByKind } from '../policies/registry.js';
import { KeyOfRef, keyOfWriter } from './tags.js';

type Models = ReadonlyMap<string, WritableModel>;

interface Entry {
  model: string;
  id?: string;
  identifiers: Record<string, unknown>;
  attrs: Record<string, unknown>;
}

/** the rendered objects of `label` with these pks, in the order given */
async function objects(models: Models, db: DB, req: FastifyRequest, label: string, pks: unknown[]): Promise<Record<string, unknown>[]> {
  const m = models.get(label);
  if (!m || !pks.length) return [];
  const rows = await m.def.select(db).where(m.pkColumn, 'in', pks).execute();
  return m.def.render(db, rows, req);
}

function entryOf(models: Models, label: string, obj: Record<string, unknown>, identifierNames: string[]): Entry {
  const m = models.get(label)!;
  const writable = new Set(writableKeys(m.def.props));
  const attrs: Record<string, unknown> = {};
  for (const k of readableKeys(m.def.props))
    if (writable.has(k) && obj[k] !== null && obj[k] !== undefined && !k.endsWith('_set')) attrs[k] = obj[k];
  const identifiers: Record<string, unknown> = { pk: obj.pk };
  for (const k of identifierNames) {
    identifiers[k] = attrs[k] ?? obj[k] ?? null;
    delete attrs[k];
  }
  return { model: label, identifiers, attrs };
}

export async function exportFlow(models: Models, db: DB, req: FastifyRequest, flowUuid: string): Promise<string> {
  const [flow] = await objects(models, db, req, 'authentik_flows.flow', [flowUuid]);
  if (!flow) throw new Error(`flow ${flowUuid} is gone`);
  const bindingRows = await db.selectFrom('flow_bindings').select('fsb_uuid').where('target', '=', flowUuid).orderBy('order').execute();
  const bindings = await objects(
    models,
    db,
    req,
    'authentik_flows.flowstagebinding',
    bindingRows.map((b) => b.fsb_uuid),
  );
  const stageRows = bindings.length
    ? await db
        .selectFrom('stages')
        .select(['stage_uuid', 'kind'])
        .where(
          'stage_uuid',
          'in',
          bindings.map((b) => b.stage as string),
        )
        .orderBy('name')
        .execute()
    : [];
  const stages: { label: string; obj: Record<string, unknown> }[] = [];
  for (const s of stageRows) {
    const def = stageTypeByKind(s.kind);
    if (!def) continue;
    const label = `${def.app}.${s.kind}`;
    for (const obj of await objects(models, db, req, label, [s.stage_uuid])) stages.push({ label, obj });
  }
  const promptStages = stages.filter((s) => s.label === 'authentik_stages_prompt.promptstage');
  const promptPks = [...new Set(promptStages.flatMap((s) => (s.obj.fields as string[] | undefined) ?? []))];
  const prompts = await objects(models, db, req, 'authentik_stages_prompt.prompt', promptPks);

  // the policies bound to the flow or its bindings, and the prompt stages' validation policies
  // (a policy binding's target is the pbm; the API shows it as the target's own pk)
  const pbms = [flow.policybindingmodel_ptr_id as string, ...bindings.map((b) => b.policybindingmodel_ptr_id as string)];
  const targets = new Set([String(flow.pk), ...bindings.map((b) => String(b.pk))]);
  const policyBindingRows = await db
    .selectFrom('policy_bindings')
    .select('policy_binding_uuid')
    .where('target', 'in', pbms)
    .orderBy('order')
    .execute();
  const policyBindings = await objects(
    models,
    db,
    req,
    'authentik_policies.policybinding',
    policyBindingRows.map((r) => r.policy_binding_uuid),
  );
  const policyPks = new Set<string>();
  for (const pb of policyBindings) if (pb.policy) policyPks.add(pb.policy as string);
  for (const s of promptStages) for (const p of (s.obj.validation_policies as string[] | undefined) ?? []) policyPks.add(p);
  const policyRows = policyPks.size
    ? await db
        .selectFrom('policies')
        .select(['policy_uuid', 'kind'])
        .where('policy_uuid', 'in', [...policyPks])
        .orderBy('name')
        .execute()
    : [];
  const policies: Entry[] = [];
  for (const p of policyRows) {
    const def = policyTypeByKind(p.kind);
    if (!def) continue;
    const label = `${def.app}.${p.kind}`;
    for (const obj of await objects(models, db, req, label, [p.policy_uuid])) policies.push(entryOf(models, label, obj, []));
  }

  const flowEntry = { ...entryOf(models, 'authentik_flows.flow', flow, ['slug']), id: String(flow.pk) };
  const entries: Entry[] = [
    flowEntry,
    ...prompts.map((p) => entryOf(models, 'authentik_stages_prompt.prompt', p, [])),
    ...policies,
    ...stages.map((s) => entryOf(models, s.label, s.obj, ['name'])),
    ...bindings.map((b) => ({ ...entryOf(models, 'authentik_flows.flowstagebinding', b, ['target', 'stage', 'order']), id: String(b.pk) })),
    ...policyBindings.map((pb) => {
      const e = entryOf(models, 'authentik_policies.policybinding', pb, ['policy', 'target', 'order']);
      if (targets.has(String(pb.target))) e.identifiers.target = new KeyOfRef(String(pb.target));
      return e;
    }),
  ];
  const { stringify } = await import('yaml');
  return stringify(
    {
      version: 1,
      metadata: { name: `Keystage Export - ${new Date().toISOString()}`, labels: { 'blueprints.goauthentik.io/generated': 'true' } },
      entries,
    },
    { customTags: [keyOfWriter], aliasDuplicateObjects: false, lineWidth: 0, blockQuote: 'literal' },
  );
}
