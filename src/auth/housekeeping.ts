/**
 * Hourly clean-up of what logins and password changes leave behind (authentik's scheduled tasks): expired
 * reputation scores, the password history once no uniqueness policy is left, send/request counters a week old,
 * temporary users past their expiry, the SAML responses a source no longer needs to remember and expired policy
 * bindings (an access request's grant). Unref'd: never keeps the process alive.
 */
import type { DB } from '../db/index.js';
import { purgeExpiredReputation } from './reputation.js';
import { purgeUnusedPasswordHistory } from './password-history.js';
import { sweepSendCounters } from '../mfa/send-limit.js';
import { purgeExpiredTemporaryUsers } from '../users/temporary.js';
import { purgeSeenResponses } from '../sources/saml/seen.js';
import { purgeExpiredBindings } from '../policies/bindings/expiry.js';

export async function authHousekeeping(db: DB): Promise<void> {
  await purgeExpiredReputation(db);
  await purgeUnusedPasswordHistory(db);
  await sweepSendCounters(db);
  await purgeExpiredTemporaryUsers(db);
  await purgeSeenResponses(db);
  await purgeExpiredBindings(db);
}

export function startAuthHousekeeping(db: DB, log: (err: unknown) => void, everyMs = 3_600_000): () => void {
  const timer = setInterval(() => void authHousekeeping(db).catch(log), everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
