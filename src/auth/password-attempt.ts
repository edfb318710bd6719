/**
 * One password check's accounting, wherever the password was typed (the password stage, or an identification stage
 * that embeds it): reserved in the shared failure records before it is checked, and a failure counted in the audit
 * log, the reputation scores, the metrics and the plan, which is cancelled at the stage's
 * `failed_attempts_before_cancel`.
 */
import { deny, stageRefOf, type Outcome, type StageCall } from '../flows/engine/runtime.js';
import { sleep, type Attempt } from './lockout.js';
import { lowerReputation } from './reputation.js';

/**
 * Before a secret is checked: the check is reserved in the shared failure records, which may slow the answer down or
 * refuse it (the same way for existing and unknown identifiers). Returns the reservation (release it when the secret
 * was right), or undefined when the check is refused.
 */
export async function reserveCheck(c: StageCall<unknown>, identifier: string, userId: number | null): Promise<Attempt | undefined> {
  const attempt = await c.svc.lockout.reserve(identifier, c.clientIp, userId);
  if (attempt.delayMs) await sleep(attempt.delayMs);
  if (!attempt.blocked) return attempt;
  await c.svc.events.emit('suspicious_request', {
    req: c.req,
    context: { reason: 'authentication throttled', identifier, stage: c.stage.name },
  });
  c.svc.metrics.loginFailures.inc({ flow: c.flow.slug, stage: c.stage.name, reason: 'throttled' });
  return undefined;
}

/**
 * counts one failed password check (its reservation stays in the shared records), in the audit log (the reason stays
 * server-side) and in this plan; cancels the flow when the stage's limit is reached
 */
export async function recordPasswordFailure(
  c: StageCall<unknown>,
  /** the password stage's `failed_attempts_before_cancel` */
  failedAttemptsBeforeCancel: number,
  rerender: () => Promise<Outcome>,
  identifier: string,
  reason: string,
  opts: {
    /** the account the identifier names (authentik's signal ties the event to the user with that username) */
    user?: { id: number; username: string; email: string } | null;
    /** false: no event (authentik's identification stage writes none for an unknown user, only the reputation drops) */
    event?: boolean;
  } = {},
): Promise<Outcome> {
  // authentik's login_failed signal: the credentials' username and the stage (as a model), besides Keystage's reason
  if (opts.event !== false)
    await c.svc.events.emit('login_failed', {
      req: c.req,
      ...(opts.user ? { user: { pk: opts.user.id, username: opts.user.username, email: opts.user.email } } : {}),
      context: { username: identifier, reason, stage: stageRefOf(c) },
    });
  // authentik's login_failed signal lowers the reputation of (username, IP)
  await lowerReputation(c.svc, c.clientIp, identifier);
  c.svc.metrics.loginFailures.inc({ flow: c.flow.slug, stage: c.stage.name, reason: 'password' });
  c.ctx.passwordFailures = (c.ctx.passwordFailures ?? 0) + 1;
  // authentik cancels once failures ≥ the setting, so 0 (like 1) cancels at the first failure
  const limit = Math.max(failedAttemptsBeforeCancel, 1);
  if (c.ctx.passwordFailures >= limit) return deny(c.stage.kind === 'passwordstage' ? 'Invalid password' : 'Failed to authenticate.');
  return rerender();
}
