/**
 * The account lockdown stage at run time (authentik's AccountLockdownStageView, 2026.8): no challenge. It locks down
 * the pending user (else whoever is logged in) — lockdown.ts — when the person running the flow may (target.ts), and
 * records a `user_write` event with `action_id: account_lockdown`, the reason (the prompt field `lockdown_reason`, else
 * the plan's `lockdown_reason`) and `affected_user`. Someone locking another account goes on with the flow (an
 * administrator's confirmation stage). Someone locking their own account with `delete_sessions` is logged out and sent
 * to the stage's `self_service_completion_flow` (a redirect challenge; without that flow the stage refuses before
 * doing anything, as authentik). Any failure ends the flow with "Account lockdown failed for this account."
 * Nothing happens in a plan nobody confirmed (`confirmed`).
 */
import { deny, ok, show, type Outcome, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import type { UsersTable } from '../../db/types.js';
import type { StageConfig } from '../types.js';
import type { accountLockdownSchema } from './schema.js';
import { lockDown } from './lockdown.js';
import { canLockUser, lockable } from './target.js';

export type AccountLockdownConfig = StageConfig<typeof accountLockdownSchema>;
type Call = StageCall<AccountLockdownConfig>;

export const TARGET_REQUIRED = 'No target user specified for account lockdown';
export const PERMISSION_DENIED = 'You do not have permission to lock down this account.';
export const LOCKDOWN_FAILED = 'Account lockdown failed for this account.';
export const COMPLETION_FLOW_REQUIRED = 'Self-service account lockdown requires a completion flow.';
export const NOT_CONFIRMED = 'Confirm the account lockdown first.';
/** the prompt field (or plan context key) holding the reason */
export const REASON_KEY = 'lockdown_reason';

function reasonOf(c: Call): string {
  const prompt = c.ctx.promptData?.[REASON_KEY];
  const value = prompt ?? (c.ctx as Record<string, unknown>)[REASON_KEY];
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value);
}

const ref = (u: UsersTable) => ({ pk: u.id, username: u.username, email: u.email });

/**
 * Beyond authentik: the stage acts only in a plan someone asked for by a POST — started by
 * `POST /core/users/account_lockdown/` (api.ts), or with a prompt answered before it (the reason) — never in a plan a
 * mere visit to the flow's page made, which a link on another site can cause
 */
const confirmed = (c: Call) => c.ctx.lockdownRequested === true || c.ctx.promptData !== undefined;

async function run(c: Call): Promise<Outcome> {
  if (!confirmed(c)) return deny(NOT_CONFIRMED);
  const target = await c.pendingUser();
  if (!target || !lockable(target)) return deny(TARGET_REQUIRED);
  const actor = c.requestUser;
  if (!(await canLockUser(c.svc.db, actor, target))) return deny(PERMISSION_DENIED);
  const self = actor?.id === target.id;
  const cfg = c.config;
  const completion = cfg.self_service_completion_flow
    ? await c.svc.db.selectFrom('flows').select('slug').where('flow_uuid', '=', cfg.self_service_completion_flow).executeTakeFirst()
    : undefined;
  if (self && cfg.delete_sessions && !completion) return deny(COMPLETION_FLOW_REQUIRED);
  const reason = reasonOf(c);
  const own = c.session.key;
  try {
    await lockDown(
      c.svc.db,
      target.id,
      {
        deactivate_user: !!cfg.deactivate_user,
        set_unusable_password: !!cfg.set_unusable_password,
        delete_sessions: !!cfg.delete_sessions,
        revoke_tokens: !!cfg.revoke_tokens,
      },
      async (keys) => {
        for (const key of keys) if (key !== own) await c.svc.sessions.ended(key, { userId: target.id, by: self ? 'user' : 'admin' });
      },
    );
  } catch (e) {
    c.req.log.warn({ stage: c.stage.name, user: target.id, err: (e as Error).message }, 'account lockdown failed');
    return deny(LOCKDOWN_FAILED);
  }
  c.req.log.info({ stage: c.stage.name, user: target.id, self }, 'account lockdown: done');
  if (cfg.set_unusable_password)
    await c.svc.signals.credentialChanged({ userId: target.id, credentialType: 'password', changeType: 'revoke' });
  await c.svc.events
    .emit('user_write', {
      user: actor ? ref(actor) : null,
      req: c.req,
      context: { action_id: 'account_lockdown', reason, affected_user: target.username },
    })
    .catch((e: Error) => c.req.log.warn({ err: e.message }, 'account lockdown: event not recorded'));
  if (!self || !cfg.delete_sessions || !completion) return ok();
  // the person's own session was deleted with the others: end it here too (cookies cleared, its listeners told), and
  // with it this flow; the completion flow needs nobody logged in
  if (own && own === c.session.key) await c.svc.sessions.destroy(c.session, c.reply);
  c.session.data.plan = undefined;
  c.session.dirty = true;
  return show({ component: 'xak-flow-redirect', to: `/if/flow/${encodeURIComponent(completion.slug)}/` });
}

export const accountLockdownRuntime: StageRuntime<AccountLockdownConfig> = {
  component: 'ak-stage-account-lockdown',
  withUserInfo: false,
  challenge: run,
  respond: run,
};
