/** What one pass of a SCIM provider's sync carries: the provider, its client and the messages it logs (LogEvents). */
import type { Services } from '../../services.js';
import { type LogEvent, logEvent } from '../../events/log-event.js';
import { type ScimClient, type Json, ScimNotFound } from './client.js';
import type { ScimProvider } from './config.js';

export interface SyncCtx {
  svc: Services;
  provider: ScimProvider;
  client: ScimClient;
  messages: LogEvent[];
  log(level: LogEvent['log_level'], event: string, attributes?: Record<string, unknown>): void;
}

export function syncCtx(svc: Services, provider: ScimProvider, client: ScimClient): SyncCtx {
  const messages: LogEvent[] = [];
  return {
    svc,
    provider,
    client,
    messages,
    log(log_level, event, attributes = {}) {
      messages.push(logEvent('authentik.providers.scim', log_level, event, attributes));
      if (messages.length > 1000) messages.splice(0, messages.length - 1000);
    },
  };
}

export const parseJson = (s: string): Json => {
  try {
    const v = JSON.parse(s || '{}') as unknown;
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
  } catch {
    return {};
  }
};

/** deepmerge with unique list appends (authentik's MERGE_LIST_UNIQUE) */
function mergeUnique(into: Json, value: Json): Json {
  for (const [k, v] of Object.entries(value)) {
    const have = into[k];
    if (Array.isArray(have) && Array.isArray(v)) {
      const seen = new Set(have.map((x) => JSON.stringify(x)));
      into[k] = [...have, ...v.filter((x) => !seen.has(JSON.stringify(x)))];
    } else if (have && v && typeof have === 'object' && typeof v === 'object' && !Array.isArray(have) && !Array.isArray(v))
      into[k] = mergeUnique({ ...(have as Json) }, v as Json);
    else into[k] = v;
  }
  return into;
}

/** authentik's diff: what was last written, with the new resource merged in, is not what was last written */
export function differs(payload: Json, known: Json): boolean {
  const merged = mergeUnique(structuredClone(known), payload);
  return JSON.stringify(merged) !== JSON.stringify(known);
}

/** an update that makes the remote object again when it has gone (a 404): its link dropped, then created anew */
export async function updateOrRemake(update: () => Promise<void>, dropLink: () => Promise<unknown>, create: () => Promise<void>) {
  try {
    await update();
  } catch (e) {
    if (!(e instanceof ScimNotFound)) throw e;
    await dropLink();
    await create();
  }
}
