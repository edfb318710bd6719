/**
 * `/stages/prompt/prompts/` (authentik's PromptViewSet): the prompts prompt stages list, and `preview/`, which
 * answers a prompt as a flow would receive it (a PromptChallenge), its expressions evaluated in earnest so that a
 * failing one is a 400 with its traceback.
 */
import { newPk } from '../../rest/requested-pk.js';
import { randomUUID } from 'node:crypto';
import { mountResource, type ResourceDef } from '../../rest/resource.js';
import type { ApiRouter } from '../../rest/routes.js';
import { requirePermission } from '../../rbac/check.js';
import { ValidationError } from '../../rest/errors.js';
import { apiToRow, rowToApi } from '../../rest/serialize.js';
import { validateBody } from '../../rest/validate.js';
import type { DB } from '../../db/index.js';
import { userById } from '../../users/by-id.js';
import { httpOf } from '../../policies/request.js';
import { renderStages, selectStages } from '../resource.js';
import { fieldsLink, PROMPT_TYPES, PROMPTS_TABLE, promptProps, promptSchema } from './schema.js';
import { challengeFields, promptOf, PromptExpressionError, type PromptsTable } from './fields.js';

type Row = PromptsTable & { pk: string };

const columns = Object.keys(promptProps).filter((k) => !promptProps[k]!.readOnly);

export const promptResource: ResourceDef<Row> = {
  component: 'Prompt',
  model: 'Prompt',
  path: '/stages/prompt/prompts',
  opPrefix: 'stages_prompt_prompts',
  tag: 'stages',
  lookup: { param: 'prompt_uuid', column: 'prompt_uuid', type: 'uuid' },
  props: promptProps,
  ops: ['list', 'create', 'retrieve', 'update', 'partial_update', 'destroy', 'used_by'],
  access: { kind: 'superuser' },
  rbac: { label: 'authentik_stages_prompt.prompt', verbose: 'Prompt' },
  list: {
    filters: {
      field_key: { type: 'str', column: 'field_key' },
      label: { type: 'str', column: 'label' },
      name: { type: 'str', column: 'name' },
      placeholder: { type: 'str', column: 'placeholder' },
      type: { type: 'enum', column: 'type', values: PROMPT_TYPES },
    },
    search: ['field_key', 'name', 'label', 'type', 'placeholder'],
    ordering: { field_key: 'field_key', name: 'name', label: 'label', type: 'type', order: 'order', pk: 'prompt_uuid' },
    defaultOrdering: ['field_key'],
    pk: 'prompt_uuid',
    unique: ['name'],
  },
  select: (db) => db.selectFrom(PROMPTS_TABLE).selectAll().select('prompt_uuid as pk'),
  render: async (db, rows) => {
    const ids = rows.map((r) => r.prompt_uuid);
    const links = ids.length
      ? await db
          .selectFrom(`${fieldsLink.table} as j` as 'stage_prompt_prompts')
          .select(['j.stage_uuid as stage', 'j.target as prompt'] as never[])
          .where('j.target' as never, 'in', ids as never)
          .execute()
      : [];
    const stageIds = [...new Set((links as unknown as { stage: string }[]).map((l) => l.stage))];
    const stageRows = stageIds.length
      ? await selectStages(db, promptSchema)
          .where('s.stage_uuid' as 'stages.stage_uuid', 'in', stageIds)
          .orderBy('s.name' as 'stages.name')
          .execute()
      : [];
    const stages = await renderStages(db, promptSchema, stageRows as never);
    const byPrompt = new Map<string, Record<string, unknown>[]>();
    for (const l of links as unknown as { stage: string; prompt: string }[]) {
      const s = stages.find((x) => x.pk === l.stage);
      if (s) byPrompt.set(l.prompt, [...(byPrompt.get(l.prompt) ?? []), s]);
    }
    return rows.map((r) => {
      const o = rowToApi(promptProps, r);
      o.pk = r.prompt_uuid;
      o.prompt_stages_obj = byPrompt.get(r.prompt_uuid) ?? [];
      return o;
    });
  },
  insert: async (tx, data) => {
    const prompt_uuid = newPk();
    await tx
      .insertInto(PROMPTS_TABLE)
      .values({ prompt_uuid, ...apiToRow(promptProps, pick(data)) } as never)
      .execute();
    return prompt_uuid;
  },
  update: async (tx, existing, data) => {
    const cols = apiToRow(promptProps, pick(data));
    if (Object.keys(cols).length)
      await tx
        .updateTable(PROMPTS_TABLE)
        .set(cols as never)
        .where('prompt_uuid', '=', existing.prompt_uuid)
        .execute();
    return existing.prompt_uuid;
  },
  remove: async (tx, existing) => {
    await tx
      .deleteFrom(fieldsLink.table as 'stage_prompt_prompts')
      .where('target' as never, '=', existing.prompt_uuid as never)
      .execute();
    await tx.deleteFrom(PROMPTS_TABLE).where('prompt_uuid', '=', existing.prompt_uuid).execute();
  },
  // the prompt stages listing it lose it (a many-to-many link)
  usedBy: async (db, row) => {
    const rows = await db
      .selectFrom(`${fieldsLink.table} as j` as 'stages')
      .innerJoin('stages as s', 's.stage_uuid', 'j.stage_uuid' as 'stages.stage_uuid')
      .select(['s.stage_uuid', 's.name'])
      .where('j.target' as 'stages.name', '=', row.prompt_uuid)
      .orderBy('s.name')
      .execute();
    return rows.map((s) => ({
      app: promptSchema.app,
      model_name: promptSchema.kind,
      pk: s.stage_uuid,
      name: `Stage ${s.name}`,
      action: 'cascade_many' as const,
    }));
  },
};

function pick(data: Record<string, unknown>) {
  const out: Record<string, unknown> = {};
  for (const c of columns) if (data[c] !== undefined) out[c] = data[c];
  return out;
}

/** how long the preview's expressions may run */
const PREVIEW_TIMEOUT_MS = 10_000;

export function mountPromptRoutes(router: ApiRouter, db: DB) {
  // the static path first (fastify prefers it anyway over the detail route's parameter)
  router.route('/stages/prompt/prompts/preview', {
    post: {
      doc: {
        operationId: 'stages_prompt_prompts_preview_create',
        tag: 'stages',
        body: 'PromptRequest',
        bodyRequired: true,
        response: 'PromptChallenge',
      },
      handler: async (req) => {
        // (DRF's model permissions for a POST on the list: add_prompt)
        const caller = await requirePermission(db, req, 'authentik_stages_prompt.add_prompt');
        // validated as a create, under a name of its own (the preview saves nothing, so the name is not checked)
        const { name: _name, ...props } = promptProps;
        const data = await validateBody(props, req.body, { mode: 'create', db });
        const prompt = promptOf({ prompt_uuid: randomUUID(), name: 'preview', ...(data as Omit<PromptsTable, 'prompt_uuid' | 'name'>) });
        const user = caller.user ? await userById(db, caller.user.id) : undefined;
        try {
          const fields = await challengeFields([prompt], {}, { user, http: httpOf(req), dryRun: true, timeoutMs: PREVIEW_TIMEOUT_MS });
          return { component: 'ak-stage-prompt', fields };
        } catch (e) {
          if (e instanceof PromptExpressionError) throw ValidationError.nonField(e.message);
          throw e;
        }
      },
    },
  });
  mountResource(router, db, promptResource);
}
