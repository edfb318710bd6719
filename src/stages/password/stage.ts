/**
 * Password stage at run time. Failures are counted per flow plan, together with passwords typed into an
 * identification stage that embeds this stage; after `failed_attempts_before_cancel` the flow is cancelled.
 */
import { authenticatePassword, TOKEN_BACKEND } from '../../core/authenticate.js';
import { dummyHash, verifyPassword } from '../../core/passwords.js';
import { isPlaceholder } from '../../flows/context.js';
import { parseResponse } from '../../flows/response.js';
import { deny, fieldError, invalid, ok, show, type Outcome, type StageCall, type StageRuntime } from '../../flows/runtime.js';
import { responseFields, type StageChallenge } from '../../flows/challenge-types.js';
import { PasswordChallengeResponseRequest, type PasswordChallenge } from './challenge.js';
import { sleep, THROTTLED_MESSAGE, type Attempt } from '../../core/lockout.js';

export interface PasswordConfig {
  pk: string;
  name: string;
  backends: string[];
  configure_flow: string | null;
  failed_attempts_before_cancel: number;
  allow_show_password: boolean;
}

const responseProps = responseFields(PasswordChallengeResponseRequest);

/**
 * Before a secret is checked: the check is reserved in the shared failure records, which may slow the answer down or
 * refuse it (the same way for existing and unknown identifiers). Returns the reservation (release it when the secret
 * was right), or undefined when the check is refused.
 */
export async function reserveCheck(c: StageCall<unknown>, identifier: string, userId: number | null): Promise<Attempt | undefined> {
  const attempt = await c.svc.lockout.reserve(identifier, c.clientIp, userId);
  if (attempt.delayMs) await sleep(attempt.delayMs);
  if (!attempt.blocked) return attempt;
  await c.svc.events.emit('suspicious_request', { clientIp: c.clientIp, context: { reason: 'authentication throttled', identifier, stage: c.stage.name } });
  c.svc.metrics.loginFailures.inc({ flow: c.flow.slug, stage: c.stage.name, reason: 'throttled' });
  return undefined;
}

/**
 * counts one failed password check (its reservation stays in the shared records), in the audit log (the reason stays
 * server-side) and in this plan; cancels the flow when the stage's limit is reached
 */
export async function recordPasswordFailure(
  c: StageCall<unknown>,
  cfg: PasswordConfig,
  rerender: () => Promise<Outcome>,
  identifier: string,
  reason: string,
): Promise<Outcome> {
  await c.svc.events.emit('login_failed', { clientIp: c.clientIp, context: { username: identifier, reason, stage: c.stage.name } });
  c.svc.metrics.loginFailures.inc({ flow: c.flow.slug, stage: c.stage.name, reason: 'password' });
  c.ctx.passwordFailures = (c.ctx.passwordFailures ?? 0) + 1;
  // authentik cancels once failures ≥ the setting, so 0 (like 1) cancels at the first failure
  const limit = Math.max(cfg.failed_attempts_before_cancel, 1);
  if (c.ctx.passwordFailures >= limit) return deny(c.stage.kind === 'passwordstage' ? 'Invalid password' : 'Failed to authenticate.');
  return rerender();
}

const challengeOf = (c: StageCall<PasswordConfig>): StageChallenge<typeof PasswordChallenge> => ({ component: 'ak-stage-password', allow_show_password: c.config.allow_show_password });

export const passwordRuntime: StageRuntime<PasswordConfig> = {
  component: 'ak-stage-password',
  withUserInfo: true,
  async challenge(c) {
    // already proven by a password embedded in the identification stage (authentik does this with a policy)
    if (c.ctx.userBackend && !isPlaceholder(c.ctx.pendingUser)) return ok();
    return show(challengeOf(c));
  },
  async respond(c, body) {
    if (c.ctx.userBackend && !isPlaceholder(c.ctx.pendingUser)) return ok();
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(challengeOf(c), parsed.errors);
    const pending = c.ctx.pendingUser;
    if (!pending) return deny();
    const password = parsed.data.password as string;
    const attempt = await reserveCheck(c, pending.username, pending.id);
    if (!attempt) return invalid(challengeOf(c), fieldError('password', THROTTLED_MESSAGE));
    const auth = isPlaceholder(pending)
      ? void (await verifyPassword(await dummyHash(c.svc.config.argon2), password, c.svc.config.argon2))
      : await authenticatePassword(c.svc, pending.username, password, c.config.backends);
    if (!auth)
      return recordPasswordFailure(
        c,
        c.config,
        async () => invalid(challengeOf(c), fieldError('password', 'Invalid password')),
        pending.username,
        isPlaceholder(pending) ? 'unknown user' : 'invalid password or inactive user',
      );
    await attempt.release();
    c.ctx.pendingUser = { id: auth.user.id, username: auth.user.username, email: auth.user.email, name: auth.user.name };
    c.ctx.userBackend = auth.backend;
    c.ctx.authMethod ??= auth.backend === TOKEN_BACKEND ? 'token' : 'password';
    return ok();
  },
};

