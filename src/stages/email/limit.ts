/**
 * How many e-mails the stage sends: per address (the stage's `recovery_max_attempts` within
 * `recovery_cache_timeout`, as authentik's cache of attempts, keyed by the SHA-256 of the lower-cased address) and
 * per client IP (`KEYSTAGE_MFA_SEND_LIMIT_IP` within `KEYSTAGE_MFA_SEND_WINDOW_MINUTES`), counted in the database
 * with one atomic upsert each, so every node sees the same counts. Over a limit nothing is sent, and the person is
 * answered exactly as if it had been: the answer reveals neither the limit nor the account.
 */
import { createHash } from 'node:crypto';
import { parseDuration } from '../../rest/duration.js';
import { release, reserve } from '../../mfa/send-limit.js';
import type { Services } from '../../flows/engine/runtime.js';

export async function reserveEmail(
  svc: Services,
  stage: { recovery_max_attempts: number; recovery_cache_timeout: string },
  address: string,
  ip: string,
): Promise<boolean> {
  const key = createHash('sha256').update(address.toLowerCase(), 'utf8').digest('hex');
  const windowMs = parseDuration(stage.recovery_cache_timeout) ?? 5 * 60_000;
  if (!(await reserve(svc.db, 'email_address', key, stage.recovery_max_attempts, windowMs))) return false;
  const ipLimit = svc.config.mfaSend.ip;
  if (ipLimit > 0 && !(await reserve(svc.db, 'email_ip', ip, ipLimit, svc.config.mfaSend.windowMs))) {
    await release(svc.db, 'email_address', key);
    return false;
  }
  return true;
}
