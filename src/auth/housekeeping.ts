/**
 * The authentication side of authentik's `clean_expired_models` (the hourly task: src/tasks/clean-expired-models.ts):
 * what logins and password changes leave behind — expired reputation scores, the password history once no uniqueness policy is
 * left, send/request counters a week old, temporary users past their expiry, the SAML responses a source no longer
 * needs to remember, expired policy bindings (an access request's grant), devices whose enrolment was abandoned.
 */
import type { DB } from '../db/index.js';
import { purgeExpiredReputation } from './reputation.js';
import { purgeUnusedPasswordHistory } from './password-history.js';
import { sweepSendCounters } from '../mfa/send-limit.js';
import { purgeExpiredTemporaryUsers } from '../users/temporary.js';
import { purgeSeenResponses } from '../sources/saml/seen.js';
import { purgeExpiredBindings } from '../policies/bindings/expiry.js';
import { purgeAbandonedEnrolments } from '../mfa/abandoned.js';

/** the clean-up of the authentication side; the number of rows each part deleted (where it counts them) */
export async function authHousekeeping(db: DB): Promise<Record<string, number>> {
  const reputation = await purgeExpiredReputation(db);
  const password_history = await purgeUnusedPasswordHistory(db);
  await sweepSendCounters(db);
  const temporary_users = await purgeExpiredTemporaryUsers(db);
  await purgeSeenResponses(db);
  const policy_bindings = await purgeExpiredBindings(db);
  const unconfirmed_devices = await purgeAbandonedEnrolments(db);
  return { reputation, password_history, temporary_users, policy_bindings, unconfirmed_devices };
}
