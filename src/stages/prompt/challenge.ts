/**
 * The prompt stage's challenge and response (authentik's PromptChallenge / StagePrompt / PromptChoice /
 * PromptChallengeResponseRequest). The response's fields are the stage's prompts' field keys, so its schema is open.
 */
import { Type, type Static } from '@sinclair/typebox';
import { S } from '../../rest/schema.js';
import { challengeSchema, ref, type ChallengeDef } from '../../flows/engine/challenge-types.js';

/** authentik's FieldTypes, in its order (PromptTypeEnum) */
export const PROMPT_TYPES = [
  'text',
  'text_area',
  'text_read_only',
  'text_area_read_only',
  'username',
  'email',
  'password',
  'number',
  'checkbox',
  'radio-button-group',
  'dropdown',
  'date',
  'date-time',
  'file',
  'separator',
  'hidden',
  'static',
  'alert_info',
  'alert_warning',
  'alert_danger',
  'ak-locale',
] as const;
export type PromptType = (typeof PROMPT_TYPES)[number];

/** the fixed-choice types: their placeholder lists the choices */
export const CHOICE_TYPES: readonly PromptType[] = ['radio-button-group', 'dropdown'];
/** types whose value is the stage's, never the person's (authentik's static/hidden/read-only set; alerts display like static) */
export const FIXED_TYPES: readonly PromptType[] = [
  'hidden',
  'static',
  'text_read_only',
  'text_area_read_only',
  'alert_info',
  'alert_warning',
  'alert_danger',
];

export const PromptChoice = Type.Object(
  { value: Type.String(), label: Type.String() },
  { description: 'Serializer for a single Choice field' },
);
export type PromptChoice = Static<typeof PromptChoice>;

export const StagePrompt = Type.Object(
  {
    field_key: Type.String(),
    label: Type.String(),
    type: S.enumOf(PROMPT_TYPES),
    required: Type.Boolean(),
    placeholder: Type.String(),
    initial_value: Type.String(),
    order: Type.Integer(),
    sub_text: Type.String(),
    choices: Type.Unsafe<PromptChoice[] | null>({ type: 'array', items: { $ref: '#/components/schemas/PromptChoice' }, nullable: true }),
  },
  { description: 'Serializer for a single Prompt field' },
);
export type StagePrompt = Static<typeof StagePrompt>;

export const PromptChallenge = challengeSchema(
  'ak-stage-prompt',
  { fields: Type.Array(ref('StagePrompt', StagePrompt)) },
  'Initial challenge being sent, define fields',
);
export type PromptChallenge = Static<typeof PromptChallenge>;

export const PromptChallengeResponseRequest = Type.Object(
  { component: Type.Optional(S.str({ default: 'ak-stage-prompt' })) },
  { additionalProperties: Type.Unknown(), description: 'Validate response, fields are dynamically created based\non the stage' },
);

export const promptChallenges: ChallengeDef[] = [
  {
    component: 'ak-stage-prompt',
    challenge: { name: 'PromptChallenge', schema: PromptChallenge },
    response: { name: 'PromptChallengeResponseRequest', schema: PromptChallengeResponseRequest },
    parts: [
      { name: 'StagePrompt', schema: StagePrompt },
      { name: 'PromptChoice', schema: PromptChoice },
    ],
  },
];
