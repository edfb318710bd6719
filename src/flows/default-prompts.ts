/** Prompts of the default flows: created unless a prompt of that name exists, and linked to a seeded prompt stage. */
import { randomUUID } from 'node:crypto';
import type { Tx } from '../rest/resource.js';

export interface PromptSeed {
  name: string;
  field_key: string;
  label: string;
  type: string;
  initial_value?: string;
  placeholder?: string;
  sub_text?: string;
  required?: boolean;
}

/** links `prompts` (in order) to the prompt stage named `stageName`, creating those that do not exist */
export async function linkPrompts(tx: Tx, stageName: string, prompts: PromptSeed[]): Promise<void> {
  const stage = await tx.selectFrom('stages').select('stage_uuid').where('name', '=', stageName).executeTakeFirst();
  if (!stage) return;
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
          order: position * 100,
          placeholder_expression: 0,
          initial_value_expression: 0,
        })
        .execute();
    }
    await tx
      .insertInto('stage_prompt_fields' as 'stages')
      .values({ stage_uuid: stage.stage_uuid, target: id, position } as never)
      .execute();
  }
}
