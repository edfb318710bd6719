/**
 * The prompt stage (authentik's PromptStage, `/stages/prompt/stages/`) and its prompts (authentik's Prompt,
 * `/stages/prompt/prompts/`): the stage lists prompts and validation policies, in order, in two junction tables.
 */
import { Type } from '@sinclair/typebox';
import type { Kysely } from 'kysely';
import { S, type Props } from '../../rest/schema.js';
import { addColumns, createJunctionTable, createStageTable } from '../../db/ddl.js';
import { m2mExists } from '../resource.js';
import type { StageDef } from '../types.js';
import { PROMPT_TYPES } from './challenge.js';

export { CHOICE_TYPES, FIXED_TYPES, PROMPT_TYPES, type PromptType } from './challenge.js';

export const PROMPTS_TABLE = 'stage_prompt_prompts';
export const promptRef = { table: PROMPTS_TABLE, column: 'prompt_uuid' };
const policyRef = { table: 'policies', column: 'policy_uuid' };
export const fieldsLink = { table: 'stage_prompt_fields', target: promptRef };
export const policiesLink = { table: 'stage_prompt_validation_policies', target: policyRef };

/** authentik's PromptSerializer */
export const promptProps: Props = {
  pk: S.ro(S.uuid({ title: 'Prompt uuid' })),
  name: S.str({
    'x-unique': { table: PROMPTS_TABLE, column: 'name', self: 'prompt_uuid', message: 'Prompt with this name already exists.' },
  }),
  field_key: S.str({ description: 'Name of the form field, also used to store the value' }),
  label: S.str(),
  type: S.enumOf(PROMPT_TYPES),
  required: S.bool({ default: true }),
  placeholder: S.text({
    default: '',
    description:
      'Optionally provide a short hint that describes the expected input value. When creating a fixed choice field, enable interpreting as expression and return a list to return multiple choices.',
  }),
  initial_value: S.text({
    default: '',
    description:
      'Optionally pre-fill the input with an initial value. When creating a fixed choice field, enable interpreting as expression and return a list to return multiple default choices.',
  }),
  order: S.int({ default: 0 }),
  prompt_stages_obj: S.ro(Type.Array(Type.Unsafe({ $ref: '#/components/schemas/PromptStage' }), { 'x-computed': true })),
  sub_text: S.text({ default: '' }),
  placeholder_expression: S.bool({ default: false }),
  initial_value_expression: S.bool({ default: false }),
};

export const promptSchema = {
  kind: 'promptstage',
  app: 'authentik_stages_prompt',
  model: 'PromptStage',
  path: 'prompt/stages',
  table: 'stage_prompt',
  component: 'ak-stage-prompt-form',
  verboseName: 'Prompt Stage',
  verboseNamePlural: 'Prompt Stages',
  description: 'Define arbitrary prompts for the user.',
  fields: {
    fields: S.m2m(promptRef, { 'x-m2m-table': true }),
    validation_policies: S.m2m(policyRef, { default: [], 'x-m2m-table': true }),
  },
  m2m: { fields: fieldsLink, validation_policies: policiesLink },
  filters: {
    stage_uuid: { type: 'uuid', column: 's.stage_uuid' },
    fields: { type: 'm2m', ref: promptRef, exists: m2mExists(fieldsLink) },
    validation_policies: { type: 'm2m', ref: policyRef, exists: m2mExists(policiesLink) },
  },
  migrations: {
    stage_prompt_0001: (dialect) => ({
      async up(db: Kysely<any>) {
        await addColumns(
          db.schema.createTable(PROMPTS_TABLE).addColumn('prompt_uuid', 'text', (c) => c.primaryKey()),
          dialect,
          {
            name: { type: 'text', notNull: true, unique: true },
            field_key: 'text',
            label: 'text',
            type: 'text',
            required: 'bool',
            placeholder: 'text',
            initial_value: 'text',
            order: 'int',
            sub_text: 'text',
            placeholder_expression: 'bool',
            initial_value_expression: 'bool',
          },
        ).execute();
        await createStageTable(db, dialect, 'stage_prompt', {});
        for (const m of [fieldsLink, policiesLink]) await createJunctionTable(db, m.table, m.target);
        await db.schema.createIndex('stage_prompt_fields_target').on(fieldsLink.table).column('target').execute();
      },
    }),
  },
} satisfies StageDef;
