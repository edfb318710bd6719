/**
 * The default account-deletion flow, `default-unenrollment-flow` (authentik's example blueprint
 * flows-unenrollment.yaml: slug, title "Delete your account", designation unenrollment, for logged-in people only,
 * a user delete stage), with one Keystage addition in front of the deletion: a prompt stage showing a warning that
 * must be submitted. authentik's flow deletes the account on the flow page's first GET, so a link to it — from any
 * site, a top-level navigation carries the session cookie — would delete the visitor's account; here the deletion
 * needs the confirming POST (with the CSRF header of a logged-in session). Created on a fresh install only (with
 * the default authentication flow), unless a flow of that slug exists; the default brand created with it names it
 * as `flow_unenrollment`.
 */
import type { DB } from '../db/index.js';
import { ensureFlow } from './defaults.js';
import { linkPrompts } from './default-prompts.js';

export const UNENROLLMENT_SLUG = 'default-unenrollment-flow';
const CONFIRM_STAGE = 'default-unenrollment-confirm';
const WARNING = {
  name: 'default-unenrollment-field-warning',
  field_key: 'unenrollment_warning',
  label: 'Delete your account',
  type: 'alert_danger',
  initial_value: 'Your account and everything that belongs to it will be deleted. This cannot be undone.',
};

export async function ensureDefaultUnenrollmentFlow(db: DB): Promise<boolean> {
  return ensureFlow(
    db,
    {
      slug: UNENROLLMENT_SLUG,
      name: 'Default unenrollment flow',
      title: 'Delete your account',
      designation: 'unenrollment',
      authentication: 'require_authenticated',
    },
    [
      { kind: 'promptstage', name: CONFIRM_STAGE, fields: {} },
      { kind: 'userdeletestage', name: 'default-unenrollment-user-delete', fields: {} },
    ],
    async (tx) => void (await linkPrompts(tx, CONFIRM_STAGE, [WARNING])),
  );
}
