/**
 * The password uniqueness policy (authentik's enterprise UniquePasswordPolicy; Keystage has no enterprise gate):
 * fails when the password in the context is one of the user's last `num_historical_passwords` passwords, compared
 * with each recorded hash (argon2id, or an imported Django hash) by verifyPassword. The history is recorded by
 * src/auth/password-history.ts whenever a password is set, while such a policy is bound.
 */
import { verifyPassword } from '../../auth/passwords.js';
import { passwordHistory } from '../../auth/password-history.js';
import type { PolicyCall, PolicyConfig, PolicyDef } from '../types.js';
import { PASSWORD_NOT_SET, passwordFromContext } from '../context.js';
import { uniquePasswordSchema } from './schema.js';

type Config = PolicyConfig<typeof uniquePasswordSchema>;

export const uniquePasswordPolicy: PolicyDef = {
  ...uniquePasswordSchema,
  async evaluate({ svc, config, request }: PolicyCall<Config>) {
    const password = passwordFromContext(request.context, config.password_field);
    if (password === undefined) return { passing: false, messages: [PASSWORD_NOT_SET] };
    if (!config.num_historical_passwords || !request.user) return { passing: true, messages: [] };
    for (const old of await passwordHistory(svc.db, request.user.id, config.num_historical_passwords)) {
      if (!old) continue;
      // the first match decides (authentik: timing on old passwords is not an attack surface)
      if ((await verifyPassword(old, password, svc.config.argon2)).ok)
        return { passing: false, messages: ['This password has been used previously. Please choose a different one.'] };
    }
    return { passing: true, messages: [] };
  },
};
