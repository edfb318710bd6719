/**
 * The password expiry policy (authentik's PasswordExpiryPolicy): fails once the user's password is `days` days old
 * or older. With `deny_only` it only says "Password has expired."; otherwise it also makes the password unusable (the
 * person must set a new one, e.g. through recovery) and says how long ago it expired. Making it unusable ends the
 * user's sessions in the same transaction, and never happens for a test or an explanation (`debug`).
 *
 * A request without a user, or a user without a usable password, has nothing to expire and passes (authentik's
 * newer password devices: "Users without a local password have nothing to expire").
 */
import { markPasswordUnusable } from '../../users/store.js';
import { UNUSABLE_PREFIX } from '../../auth/passwords.js';
import type { PolicyCall, PolicyConfig, PolicyDef } from '../types.js';
import { passwordExpirySchema } from './schema.js';

type Config = PolicyConfig<typeof passwordExpirySchema>;

const DAY_MS = 86_400_000;
/** Python's timedelta.days: whole days, rounded down (also below zero) */
const wholeDays = (ms: number) => Math.floor(ms / DAY_MS);

export const passwordExpiryPolicy: PolicyDef = {
  ...passwordExpirySchema,
  async evaluate({ svc, config, request }: PolicyCall<Config>) {
    const user = request.user;
    if (!user || !user.password || user.password.startsWith(UNUSABLE_PREFIX)) return { passing: true, messages: [] };
    const changed = Date.parse(user.password_change_date);
    const now = Date.now();
    const actualDays = wholeDays(now - changed);
    if (actualDays < config.days) return { passing: true, messages: [] };
    if (config.deny_only) return { passing: false, messages: ['Password has expired.'] };
    const sinceExpiry = wholeDays(now - (changed + config.days * DAY_MS));
    if (!request.debug) {
      const ended = await svc.db.transaction().execute((tx) => markPasswordUnusable(tx, user.id));
      await svc.sessions.endedAll(ended, { userId: user.id, by: 'policy' });
      await svc.signals.credentialChanged({ userId: user.id, credentialType: 'password', changeType: 'revoke' });
    }
    return { passing: false, messages: [`Password expired ${sinceExpiry} days ago. Please update your password.`] };
  },
};
