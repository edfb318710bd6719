/**
 * The default recovery flow, `default-recovery-flow` (authentik's blueprint flows-recovery-email-verification.yaml):
 * identification by username or e-mail (no password; what was typed is shown, never the matched account, and an
 * unknown identifier continues as if it were one), an e-mail stage (the global SMTP settings) whose link continues
 * the flow, a prompt for the new password twice (checked by the default password policy), a user write stage that
 * never creates users, and a login stage. Created on a fresh install only, like the sign-up flow; the default
 * authentication flow's identification stage then links to it ("Forgot username or password?") and the default
 * brand names it as `flow_recovery` (what administrators' recovery links use).
 */
import type { DB } from '../db/index.js';
import { ensureFlow } from './defaults.js';
import { fillPromptStage, linkFromLoginPage } from './default-enrollment.js';

export const RECOVERY_SLUG = 'default-recovery-flow';
const PROMPT_STAGE = 'default-recovery-prompt';

const PROMPTS = [
  { name: 'default-recovery-field-password', field_key: 'password', label: 'Password', type: 'password', placeholder: 'Password' },
  {
    name: 'default-recovery-field-password-repeat',
    field_key: 'password_repeat',
    label: 'Password (repeat)',
    type: 'password',
    placeholder: 'Password (repeat)',
  },
];

export async function ensureDefaultRecoveryFlow(db: DB): Promise<void> {
  const created = await ensureFlow(
    db,
    {
      slug: RECOVERY_SLUG,
      name: 'Default recovery flow',
      title: 'Reset your password',
      designation: 'recovery',
      authentication: 'require_unauthenticated',
    },
    [
      {
        kind: 'identificationstage',
        name: 'default-recovery-identification',
        fields: { user_fields: ['email', 'username'], show_matched_user: false, pretend_user_exists: true },
      },
      {
        kind: 'emailstage',
        name: 'default-recovery-email',
        fields: { use_global_settings: true, subject: 'Reset your password', template: 'email/password_reset.html' },
      },
      { kind: 'promptstage', name: PROMPT_STAGE, fields: {} },
      { kind: 'userwritestage', name: 'default-recovery-user-write', fields: { user_creation_mode: 'never_create' } },
      { kind: 'userloginstage', name: 'default-recovery-user-login', fields: {} },
    ],
    (tx) => fillPromptStage(tx, PROMPT_STAGE, PROMPTS),
  );
  if (!created) return;
  await linkFromLoginPage(db, RECOVERY_SLUG, 'recovery_flow');
}
