/**
 * The person's own settings flows, created on a fresh install only (with the default authentication flow), each
 * unless a flow of that slug exists — authentik's blueprints flow-default-user-settings-flow.yaml,
 * flow-password-change.yaml and flow-default-authenticator-{totp,static,webauthn}-setup.yaml:
 *
 * - `default-user-settings-flow` ("Update your info", stage_configuration, require_authenticated): a prompt stage with
 *   username, name, e-mail and locale, each pre-filled from the user by authentik's initial-value expression (run
 *   natively, src/stages/prompt/native.ts), validated by authentik's `default-user-settings-authorization` expression
 *   policy (run natively too: a group attribute `goauthentik.io/user/can-change-*` false refuses that change), then a
 *   user write stage that never creates a user. The default brand's `flow_user_settings` names it.
 * - `default-password-change` ("Change password"): password and repeat, checked by a password policy (8 characters,
 *   static rules, zxcvbn score ≥ 2), then a user write stage — the default authentication flow's password stage
 *   names it as its `configure_flow`, so the user page's "Change password" runs it (/flows/-/configure/<stage>/).
 * - `default-authenticator-{totp,static,webauthn}-setup`: one setup stage each, whose `configure_flow` is its own
 *   flow, so the user page offers to enrol those devices.
 */
import { linkPrompts } from './default-prompts.js';
import { randomUUID } from 'node:crypto';
import type { DB } from '../db/index.js';
import type { Tx } from '../rest/resource.js';
import { apiToRow, nowIso } from '../rest/serialize.js';
import { policyTypeByKind } from '../policies/registry.js';
import { SETTINGS_AUTHORIZATION } from '../policies/expression/native.js';
import { USER_SETTINGS_INITIAL } from '../stages/prompt/native.js';
import { ensureFlow } from './defaults.js';

export const USER_SETTINGS_SLUG = 'default-user-settings-flow';
export const PASSWORD_CHANGE_SLUG = 'default-password-change';

interface PromptSeed {
  name: string;
  field_key: string;
  label: string;
  type: string;
  placeholder: string;
  order: number;
  initial_value?: string;
}

/** (each pre-filled by authentik's initial-value expression for its field) */
const SETTINGS_PROMPTS: PromptSeed[] = [
  {
    name: 'default-user-settings-field-username',
    field_key: 'username',
    label: 'Username',
    type: 'text',
    placeholder: 'Username',
    order: 200,
  },
  { name: 'default-user-settings-field-name', field_key: 'name', label: 'Name', type: 'text', placeholder: 'Name', order: 201 },
  { name: 'default-user-settings-field-email', field_key: 'email', label: 'Email', type: 'email', placeholder: 'Email', order: 202 },
  {
    name: 'default-user-settings-field-locale',
    field_key: 'attributes.settings.locale',
    label: 'Locale',
    type: 'ak-locale',
    placeholder: 'Locale',
    order: 203,
  },
].map((p) => ({ ...p, initial_value: USER_SETTINGS_INITIAL[p.field_key] }));

const PASSWORD_PROMPTS: PromptSeed[] = [
  {
    name: 'default-password-change-field-password',
    field_key: 'password',
    label: 'Password',
    type: 'password',
    placeholder: 'Password',
    order: 300,
  },
  {
    name: 'default-password-change-field-password-repeat',
    field_key: 'password_repeat',
    label: 'Password (repeat)',
    type: 'password',
    placeholder: 'Password (repeat)',
    order: 301,
  },
];

/** links the prompts (created unless prompts of those names exist) and one validation policy to the prompt stage */
async function fillPromptStage(tx: Tx, stageName: string, prompts: PromptSeed[], policy: string | undefined): Promise<void> {
  const stage = await linkPrompts(
    tx,
    stageName,
    prompts.map((p) => ({ ...p, required: true, initial_value_expression: p.initial_value !== undefined })),
  );
  if (stage && policy)
    await tx
      .insertInto('stage_prompt_validation_policies' as 'stages')
      .values({ stage_uuid: stage, target: policy, position: 0 } as never)
      .execute();
}

/** a policy of `kind` with authentik's defaults and `fields` (unless a policy of that name exists) */
async function ensurePolicy(tx: Tx, name: string, kind: string, fields: Record<string, unknown>): Promise<string | undefined> {
  const existing = await tx.selectFrom('policies').select('policy_uuid').where('name', '=', name).executeTakeFirst();
  if (existing) return existing.policy_uuid;
  const def = policyTypeByKind(kind);
  if (!def) return undefined;
  const values: Record<string, unknown> = {};
  for (const [k, s] of Object.entries(def.fields)) if (!s.readOnly && !s['x-computed']) values[k] = s.default ?? null;
  Object.assign(values, fields);
  const policy_uuid = randomUUID();
  const now = nowIso();
  await tx.insertInto('policies').values({ policy_uuid, name, kind, execution_logging: 0, created: now, last_updated: now }).execute();
  await tx
    .insertInto(def.table as 'policies')
    .values({ policy_uuid, ...apiToRow(def.fields, values) } as never)
    .execute();
  return policy_uuid;
}

const CONFIGURATION = { designation: 'stage_configuration', authentication: 'require_authenticated' };

/** a setup stage's `configure_flow` is the flow it sits in (authentik's `!KeyOf flow`) */
async function selfConfigure(tx: Tx, stageName: string, table: string, slug: string): Promise<void> {
  const flow = await tx.selectFrom('flows').select('flow_uuid').where('slug', '=', slug).executeTakeFirst();
  const stage = await tx.selectFrom('stages').select('stage_uuid').where('name', '=', stageName).executeTakeFirst();
  if (!flow || !stage) return;
  await tx
    .updateTable(table as 'stages')
    .set({ configure_flow: flow.flow_uuid } as never)
    .where('stage_uuid', '=', stage.stage_uuid)
    .where('configure_flow' as 'name', 'is', null)
    .execute();
}

export async function ensureUserSettingsFlows(db: DB): Promise<void> {
  await ensureFlow(
    db,
    { slug: USER_SETTINGS_SLUG, name: 'User settings', title: 'Update your info', ...CONFIGURATION },
    [
      { kind: 'promptstage', name: 'default-user-settings', fields: {}, order: 20 },
      { kind: 'userwritestage', name: 'default-user-settings-write', fields: { user_creation_mode: 'never_create' }, order: 100 },
    ],
    async (tx) => {
      const policy = await ensurePolicy(tx, 'default-user-settings-authorization', 'expressionpolicy', {
        expression: SETTINGS_AUTHORIZATION,
      });
      await fillPromptStage(tx, 'default-user-settings', SETTINGS_PROMPTS, policy);
    },
  );
  const passwordChange = await ensureFlow(
    db,
    { slug: PASSWORD_CHANGE_SLUG, name: 'Change Password', title: 'Change password', ...CONFIGURATION },
    [
      { kind: 'promptstage', name: 'default-password-change-prompt', fields: {}, order: 0 },
      { kind: 'userwritestage', name: 'default-password-change-write', fields: { user_creation_mode: 'never_create' }, order: 1 },
    ],
    async (tx) => {
      const policy = await ensurePolicy(tx, 'default-password-change-password-policy', 'passwordpolicy', {
        check_static_rules: true,
        check_zxcvbn: true,
        length_min: 8,
        password_field: 'password',
        zxcvbn_score_threshold: 2,
        error_message: 'Password needs to be 8 characters or longer.',
      });
      await fillPromptStage(tx, 'default-password-change-prompt', PASSWORD_PROMPTS, policy);
    },
  );
  // the default login flow's password stage: its configure_flow is the password change (authentik's blueprint)
  if (passwordChange)
    await db.transaction().execute((tx) => selfConfigure(tx, 'default-authentication-password', 'stage_password', PASSWORD_CHANGE_SLUG));
  for (const s of SETUP_FLOWS) {
    await ensureFlow(
      db,
      { slug: s.slug, name: s.slug, title: s.title, ...CONFIGURATION },
      [{ kind: s.kind, name: s.slug, fields: s.fields, order: 0 }],
      (tx) => selfConfigure(tx, s.slug, s.table, s.slug),
    );
  }
}

const SETUP_FLOWS = [
  {
    slug: 'default-authenticator-totp-setup',
    title: 'Setup Two-Factor authentication',
    kind: 'authenticatortotpstage',
    table: 'stage_authenticator_totp',
    fields: { digits: '6' },
  },
  {
    slug: 'default-authenticator-static-setup',
    title: 'Setup Static OTP Tokens',
    kind: 'authenticatorstaticstage',
    table: 'stage_authenticator_static',
    fields: { token_count: 6, friendly_name: 'Static tokens' },
  },
  {
    slug: 'default-authenticator-webauthn-setup',
    title: 'Setup WebAuthn',
    kind: 'authenticatorwebauthnstage',
    table: 'stage_authenticator_webauthn',
    fields: {},
  },
];
