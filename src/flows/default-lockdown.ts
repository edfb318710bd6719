/**
 * The account lockdown flows of authentik's packaged blueprint flow-default-account-lockdown.yaml:
 * `default-account-lockdown` (title "Lock Account", stage configuration, for logged-in people: a prompt with a warning
 * and the reason, then the account lockdown stage doing everything) and `default-account-lockdown-complete` (title
 * "Account Locked", no authentication: the message a person who locked their own account lands on). As in authentik
 * they are opt-in: created on a fresh install, but no brand names them — set a brand's `flow_lockdown` to
 * `default-account-lockdown` to offer lockdown (the user page's "Lock my account", `POST /core/users/account_lockdown/`).
 * Keystage's texts are static (authentik's are Python expressions that word them for oneself or another account), and
 * the administrator's result page (a prompt behind an expression policy) is left out: the flow ends where it started.
 */
import type { DB } from '../db/index.js';
import { ensureFlow } from './defaults.js';
import { linkPrompts } from './default-prompts.js';

export const LOCKDOWN_SLUG = 'default-account-lockdown';
export const LOCKDOWN_COMPLETE_SLUG = 'default-account-lockdown-complete';
const PROMPT_STAGE = 'default-account-lockdown-prompt';
const COMPLETE_STAGE = 'default-account-lockdown-self-complete-prompt';

const WARNING = {
  name: 'default-account-lockdown-field-warning',
  field_key: 'lockdown_warning',
  label: 'Warning',
  type: 'alert_danger',
  initial_value:
    'This is an emergency action for cutting off access to the account right away. It will immediately invalidate ' +
    'the password, deactivate the account, end all its sessions and revoke all its tokens (API, app password, ' +
    'recovery and verification tokens, and what applications were granted). Only an administrator can restore access.',
};
const REASON = {
  name: 'default-account-lockdown-field-reason',
  field_key: 'lockdown_reason',
  label: 'Reason',
  type: 'text_area',
  placeholder: 'Describe why this account is being locked down...',
  sub_text: 'This explanation will be recorded in the audit log.',
  required: true,
};
const LOCKED = {
  name: 'default-account-lockdown-self-field-complete',
  field_key: 'self_lockdown_complete',
  label: 'Account locked',
  type: 'alert_warning',
  initial_value:
    'Your account has been locked. You have been logged out of all sessions and your password has been invalidated. ' +
    'To regain access to your account, please contact your IT administrator or security team.',
};

export async function ensureDefaultLockdownFlows(db: DB): Promise<void> {
  await ensureFlow(
    db,
    {
      slug: LOCKDOWN_COMPLETE_SLUG,
      name: 'Account Lockdown Complete',
      title: 'Account Locked',
      designation: 'stage_configuration',
      authentication: 'none',
    },
    [{ kind: 'promptstage', name: COMPLETE_STAGE, fields: {} }],
    async (tx) => void (await linkPrompts(tx, COMPLETE_STAGE, [LOCKED])),
  );
  const complete = await db.selectFrom('flows').select('flow_uuid').where('slug', '=', LOCKDOWN_COMPLETE_SLUG).executeTakeFirst();
  await ensureFlow(
    db,
    {
      slug: LOCKDOWN_SLUG,
      name: 'Account Lockdown',
      title: 'Lock Account',
      designation: 'stage_configuration',
      authentication: 'require_authenticated',
    },
    [
      { kind: 'promptstage', name: PROMPT_STAGE, fields: {} },
      {
        kind: 'accountlockdownstage',
        name: 'default-account-lockdown-stage',
        fields: { self_service_completion_flow: complete?.flow_uuid ?? null },
      },
    ],
    async (tx) => void (await linkPrompts(tx, PROMPT_STAGE, [WARNING, REASON])),
  );
}
