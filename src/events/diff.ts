/**
 * authentik's audit diff (its enterprise audit, `authentik/enterprise/audit/`): what an admin write changed, in the
 * `diff` of its `model_created` / `model_updated` event — `{field: {previous_value, new_value}}` — over the object as
 * the API shows it (write-only secrets are never in it). Values under keys that name credentials are cleansed as
 * authentik's `cleanse_dict` does. Relations to many (`x-m2m` fields) are only in it with the system settings' flag
 * `enterprise_audit_include_expanded_diff`, as `{field: {add: [...], remove: [...]}}`.
 */
import type { Props } from '../rest/schema.js';

/** Django's SafeExceptionReporterFilter.hidden_settings, as authentik's cleanse_item applies it (but `passing`) */
const SENSITIVE = /api|token|key|secret|pass|signature|http_cookie/i;
const ALLOWED = /passing/i;
/** Django's cleansed_substitute */
export const CLEANSED = '********************';

const isDict = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * authentik's cleanse_dict (events/utils.py), recursively: a dict is cleansed key by key, a list item by item under
 * its key, and any other value under a key that names a credential is replaced
 */
export const cleanseDict = (d: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(Object.entries(d).map(([k, v]) => [k, cleanseItem(k, v)]));

function cleanseItem(key: string, v: unknown): unknown {
  if (isDict(v)) return cleanseDict(v);
  if (Array.isArray(v)) return v.map((x) => cleanseItem(key, x));
  return SENSITIVE.test(key) && !ALLOWED.test(key) ? CLEANSED : v;
}

const cleanse = (key: string, v: unknown) =>
  SENSITIVE.test(key) && !ALLOWED.test(key) && v !== null && v !== undefined && v !== '' ? CLEANSED : v;
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

export function auditDiff(
  props: Props,
  before: Record<string, unknown> | undefined,
  after: Record<string, unknown>,
  expandRelations: boolean,
): Record<string, unknown> {
  const diff: Record<string, unknown> = {};
  for (const [key, s] of Object.entries(props)) {
    if (s.writeOnly || !(key in after)) continue;
    const prev = before?.[key] ?? null;
    const next = after[key] ?? null;
    if (same(prev, next)) continue;
    if (s['x-m2m']) {
      if (!expandRelations) continue;
      const was = new Set((Array.isArray(prev) ? prev : []).map(String));
      const now = new Set((Array.isArray(next) ? next : []).map(String));
      const add = [...now].filter((x) => !was.has(x));
      const remove = [...was].filter((x) => !now.has(x));
      diff[key] = { ...(add.length ? { add } : {}), ...(remove.length ? { remove } : {}) };
      continue;
    }
    if (!before && next === null) continue;
    diff[key] = { previous_value: cleanse(key, prev), new_value: cleanse(key, next) };
  }
  return diff;
}
