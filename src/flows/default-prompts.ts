/** Prompts of the default flows: created unless a prompt of that name exists, and linked to a seeded prompt stage. */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../rest/resource.js';

export interface PromptSeed {
  name: string;
  field_key: string;
  label: string;
  type: string;
  initial_value?: string;
  /** `initial_value` is an expression (authentik's initial-value expression) */
  initial_value_expression?: boolean;
  placeholder?: string;
  sub_text?: string;
  required?: boolean;
  /** the prompt's `order` (default: its place in the list) */
  order?: number;
}

/**
 * links `prompts` (in order) to the prompt stage named `stageName`, creating those that do not exist; the stage's
 * uuid when it linked them, undefined when there is no such stage or it has prompts already
 */
export async function linkPrompts(tx: Tx, stageName: string, prompts: PromptSeed[]): Promise<string | undefined> {
  const stage = await tx.selectFrom('stages').select('stage_uuid').where('name', '=', stageName).executeTakeFirst();
  if (!stage) return undefined;
  const linked = await tx
    .selectFrom('stage_prompt_fields' as 'stages')
    .select('stage_uuid')
    .where('stage_uuid', '=', stage.stage_uuid)
    .execute();
  if (linked.length) return undefined;
  for (const [position, p] of prompts.entries()) {
    let id = (await tx.selectFrom('stage_prompt_prompts').select('prompt_uuid').where('name', '=', p.name).executeTakeFirst())?.prompt_uuid;
    if (!id) {
      id = randomUUID();
      await tx
        .insertInto('stage_prompt_prompts')
        .values({
          prompt_uuid: id,
          name: p.name,
          field_key: p.field_key,
          label: p.label,
          type: p.type,
          initial_value: p.initial_value ?? '',
          required: p.required ? 1 : 0,
          placeholder: p.placeholder ?? '',
          sub_text: p.sub_text ?? '',
          order: p.order ?? position,
          placeholder_expression: 0,
          initial_value_expression: p.initial_value_expression ? 1 : 0,
        })
        .execute();
    }
    await tx
      .insertInto('stage_prompt_fields' as 'stages')
      .values({ stage_uuid: stage.stage_uuid, target: id, position } as never)
      .execute();
  }
  return stage.stage_uuid;
}
