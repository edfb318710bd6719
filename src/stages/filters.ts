import type { TSchema } from '@sinclair/typebox';
import type { FilterSpec } from '../rest/list.js';
import type { Props, Ref } from '../rest/schema.js';

/** the `stage_uuid` filter most stage lists offer */
export const uuidFilter: FilterSpec = { type: 'uuid', column: 's.stage_uuid' };

/** django-filter's filter for one model field, by the field's schema */
function fieldFilter(table: string, name: string, s: TSchema): FilterSpec {
  const column = `t.${name}`;
  // a foreign key by pk: a pk naming no object is a 400 ("Select a valid choice…")
  if (s['x-ref']) return { type: 'fk', column, ref: s['x-ref'] as Ref };
  // a secret, stored encrypted: compared to the decrypted value, never returned
  if (s.writeOnly) return { type: 'secret', column, field: `${table}.${name}` };
  if (Array.isArray(s.enum)) return { type: 'enum', column, values: s.enum as string[] };
  if (s.type === 'boolean') return { type: 'bool', column };
  if (s.type === 'integer') return { type: 'int', column };
  if (s.type === 'string') return { type: 'str', column };
  throw new Error(`no list filter for ${table}.${name}`);
}

/**
 * Exact-match filters on a stage type's own fields, as authentik's `filterset_fields` declares them (`"__all__"` for
 * every field): strings exact, booleans, numbers, choices, foreign keys by pk, secrets by their decrypted value.
 */
export function fieldFilters(table: string, fields: Props, names: readonly string[] = Object.keys(fields)): Record<string, FilterSpec> {
  return Object.fromEntries(names.map((n) => [n, fieldFilter(table, n, fields[n]!)]));
}
