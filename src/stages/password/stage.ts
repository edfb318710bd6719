/**
 * Password stage at run time. Failures are counted per flow plan, together with passwords typed into an
 * identification stage that embeds this stage; after `failed_attempts_before_cancel` the flow is cancelled.
 */

import { authenticatePassword, noteAuthentication } from '../../auth/authenticate.js';
import { dummyHash, verifyPassword } from '../../auth/passwords.js';
import { isPlaceholder } from '../../flows/engine/context.js';
import { baseUrlOf } from '../../rest/http.js';
import { parseResponse } from '../../flows/engine/response.js';
import { deny, fieldError, invalid, ok, show, type StageCall, type StageRuntime } from '../../flows/engine/runtime.js';
import { THROTTLED_MESSAGE } from '../../auth/lockout.js';
import { recordPasswordFailure, reserveCheck } from '../../auth/password-attempt.js';
import { responseFields, type StageChallenge } from '../../flows/engine/challenge-types.js';
import type { StageConfig } from '../types.js';
import type { passwordSchema } from './schema.js';
import { PasswordChallengeResponseRequest, type PasswordChallenge } from './challenge.js';

export type PasswordConfig = StageConfig<typeof passwordSchema>;

const responseProps = responseFields(PasswordChallengeResponseRequest);

/**
 * the brand's recovery flow as an absolute link, as authentik's password stage offers it ("Forgot password?"); none
 * when the brand has no recovery flow
 */
async function recoveryUrl(c: StageCall<PasswordConfig>): Promise<string | undefined> {
  const slug = (await c.svc.brand(c.req.host)).flowSlugs.flow_recovery;
  return slug && `${baseUrlOf(c.req, c.svc.config)}/if/flow/${encodeURIComponent(slug)}/`;
}

const challengeOf = async (c: StageCall<PasswordConfig>): Promise<StageChallenge<typeof PasswordChallenge>> => {
  const recovery = await recoveryUrl(c);
  return {
    component: 'ak-stage-password',
    allow_show_password: c.config.allow_show_password,
    ...(recovery ? { recovery_url: recovery } : {}),
  };
};

export const passwordRuntime: StageRuntime<PasswordConfig> = {
  component: 'ak-stage-password',
  withUserInfo: true,
  // (a person already proven by a password typed into the identification stage, or a passkey, skips this stage
  // through a policy on its binding, as in authentik: src/policies/expression/defaults.ts)
  async challenge(c) {
    return show(await challengeOf(c));
  },
  async respond(c, body) {
    const parsed = await parseResponse(c.svc.db, responseProps, body);
    if (!parsed.ok) return invalid(await challengeOf(c), parsed.errors);
    const pending = c.ctx.pendingUser;
    if (!pending) return deny();
    const password = parsed.data.password as string;
    const attempt = await reserveCheck(c, pending.username, pending.id);
    if (!attempt) return invalid(await challengeOf(c), fieldError('password', THROTTLED_MESSAGE));
    const auth = isPlaceholder(pending)
      ? void (await verifyPassword(await dummyHash(c.svc.config.argon2), password, c.svc.config.argon2))
      : await authenticatePassword(c.svc, pending.username, password, c.config.backends);
    if (!auth)
      return recordPasswordFailure(
        c,
        c.config.failed_attempts_before_cancel,
        async () => invalid(await challengeOf(c), fieldError('password', 'Invalid password')),
        pending.username,
        isPlaceholder(pending) ? 'unknown user' : 'invalid password or inactive user',
        { user: isPlaceholder(pending) ? null : { id: pending.id!, username: pending.username, email: pending.email } },
      );
    c.releaseLater(attempt);
    c.setPendingUser(auth.user);
    noteAuthentication(c.ctx, auth);
    return ok();
  },
};
