/**
 * A protocol request waiting in the session while the provider's authorization flow runs (OAuth2's authorize, SAML's
 * single sign-on): kept under a random key that only the flow's continuation names, at most ten per session and for
 * thirty minutes, and taken once by the person who started it.
 */
import { randomBytes } from 'node:crypto';
import type { Session } from '../sessions/sessions.js';

const PENDING_MAX = 10;
const PENDING_TTL_MS = 30 * 60_000;

export interface PendingBase {
  provider: number;
  user: number;
  created: number;
}

/** keeps `value` under a new key (stale and surplus entries of the prefix dropped); the session is marked dirty */
export function keepPending(
  session: Session,
  prefix: string,
  value: Omit<PendingBase, 'created'> & Record<string, unknown>,
): { key: string; created: number } {
  const store = (session.data.providers ??= {});
  const now = Date.now();
  for (const [k, v] of Object.entries(store))
    if (k.startsWith(prefix) && now - ((v as PendingBase).created ?? 0) > PENDING_TTL_MS) delete store[k];
  const keys = Object.keys(store).filter((k) => k.startsWith(prefix));
  while (keys.length >= PENDING_MAX) delete store[keys.shift()!];
  const key = randomBytes(24).toString('base64url');
  store[prefix + key] = { ...value, created: now };
  session.dirty = true;
  return { key, created: now };
}

/** drops a kept entry (the flow was done at once) */
export function dropPending(session: Session, prefix: string, key: string): void {
  if (session.data.providers) delete session.data.providers[prefix + key];
}

/** the entry under `key`, taken (deleted) when it is this user's and fresh; undefined otherwise */
export function takePending<T extends PendingBase>(
  session: Session,
  prefix: string,
  key: string,
  userId: number | undefined,
): T | undefined {
  const pending = session.data.providers?.[prefix + key] as T | undefined;
  if (!pending || userId === undefined || pending.user !== userId || Date.now() - pending.created > PENDING_TTL_MS) return undefined;
  delete session.data.providers![prefix + key];
  session.dirty = true;
  return pending;
}
