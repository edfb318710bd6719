/**
 * The default sign-up flow, `default-enrollment-flow` (authentik's slug): a prompt stage (username, name, e-mail,
 * password twice, the password checked by a password policy of at least 8 characters), a user write stage that
 * always creates a user, and a login stage. Created on a fresh install only (with the default authentication flow:
 * an existing install does not have sign-up opened by an upgrade), unless a flow of that slug exists; the default
 * authentication flow's identification stage then links to it ("Need an account? Sign up."). Anyone can run an
 * enrollment flow by its slug, linked or not: deleting the flow (or binding a policy that denies) turns sign-up off.
 */
import { linkPrompts } from './default-prompts.js';
import { randomUUID } from 'node:crypto';
import type { DB } from '../db/index.js';
import type { Tx } from '../rest/resource.js';
import { apiToRow, nowIso } from '../rest/serialize.js';
import { policyTypeByKind } from '../policies/registry.js';
import { ensureFlow } from './defaults.js';

export const ENROLLMENT_SLUG = 'default-enrollment-flow';
const PROMPT_STAGE = 'default-enrollment-prompt';
const PASSWORD_POLICY = 'default-enrollment-password-policy';

const PROMPTS = [
  { name: 'default-enrollment-field-username', field_key: 'username', label: 'Username', type: 'username', placeholder: 'Username' },
  { name: 'default-enrollment-field-name', field_key: 'name', label: 'Name', type: 'text', placeholder: 'Name' },
  { name: 'default-enrollment-field-email', field_key: 'email', label: 'Email', type: 'email', placeholder: 'Email' },
  { name: 'default-enrollment-field-password', field_key: 'password', label: 'Password', type: 'password', placeholder: 'Password' },
  {
    name: 'default-enrollment-field-password-repeat',
    field_key: 'password_repeat',
    label: 'Password (repeat)',
    type: 'password',
    placeholder: 'Password (repeat)',
  },
];

export interface PromptSeed {
  name: string;
  field_key: string;
  label: string;
  type: string;
  placeholder: string;
}

/** the prompts (unless prompts of those names exist) and (unless told otherwise) the password policy, linked to the prompt stage */
export async function fillPromptStage(
  tx: Tx,
  stageName = PROMPT_STAGE,
  prompts: PromptSeed[] = PROMPTS,
  passwordCheck = true,
): Promise<void> {
  const stage = await linkPrompts(
    tx,
    stageName,
    prompts.map((p) => ({ ...p, required: true })),
  );
  const policy = stage && passwordCheck ? await passwordPolicy(tx) : undefined;
  if (stage && policy)
    await tx
      .insertInto('stage_prompt_validation_policies' as 'stages')
      .values({ stage_uuid: stage, target: policy, position: 0 } as never)
      .execute();
}

/** a password policy: at least 8 characters (its other settings authentik's defaults) */
async function passwordPolicy(tx: Tx): Promise<string | undefined> {
  const existing = await tx.selectFrom('policies').select('policy_uuid').where('name', '=', PASSWORD_POLICY).executeTakeFirst();
  if (existing) return existing.policy_uuid;
  const def = policyTypeByKind('passwordpolicy');
  if (!def) return undefined;
  const values: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(def.fields)) if (!s.readOnly && !s['x-computed']) values[k] = s.default ?? null;
  Object.assign(values, { length_min: 8, error_message: 'The password must be at least 8 characters long.' });
  const policy_uuid = randomUUID();
  const now = nowIso();
  await tx
    .insertInto('policies')
    .values({ policy_uuid, name: PASSWORD_POLICY, kind: def.kind, execution_logging: 0, created: now, last_updated: now })
    .execute();
  await tx
    .insertInto(def.table as 'policies')
    .values({ policy_uuid, ...apiToRow(def.fields, values) } as never)
    .execute();
  return policy_uuid;
}

export async function ensureDefaultEnrollmentFlow(db: DB): Promise<void> {
  const created = await ensureFlow(
    db,
    { slug: ENROLLMENT_SLUG, name: 'Default enrollment Flow', title: 'Sign up', designation: 'enrollment' },
    [
      { kind: 'promptstage', name: PROMPT_STAGE, fields: {} },
      {
        kind: 'userwritestage',
        name: 'default-enrollment-user-write',
        fields: { user_creation_mode: 'always_create', user_type: 'internal' },
      },
      { kind: 'userloginstage', name: 'default-enrollment-user-login', fields: {} },
    ],
    (tx) => fillPromptStage(tx),
  );
  if (!created) return;
  await linkFromLoginPage(db, ENROLLMENT_SLUG, 'enrollment_flow');
}

/**
 * The default login flow's identification stage links to the flow `slug` through `column` (`enrollment_flow`,
 * `recovery_flow`), unless it already links to one: the login page then shows the link.
 */
export async function linkFromLoginPage(db: DB, slug: string, column: 'enrollment_flow' | 'recovery_flow'): Promise<void> {
  const flow = await db.selectFrom('flows').select('flow_uuid').where('slug', '=', slug).executeTakeFirst();
  const identification = await db
    .selectFrom('stages')
    .select('stage_uuid')
    .where('name', '=', 'default-authentication-identification')
    .where('kind', '=', 'identificationstage')
    .executeTakeFirst();
  if (!flow || !identification) return;
  await db
    .updateTable('stage_identification' as 'stages')
    .set({ [column]: flow.flow_uuid } as never)
    .where('stage_uuid', '=', identification.stage_uuid)
    .where(column as 'name', 'is', null)
    .execute();
}
