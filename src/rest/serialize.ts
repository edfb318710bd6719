/** Row ↔ wire conversion driven by the same schemas: booleans as 0/1, JSON as text, datetimes as DRF renders them. */
import type { TSchema } from '@sinclair/typebox';
import type { Props } from './schema.js';

/** `2026-04-20T08:47:25.123000Z`, or without a fraction when it is zero (Python's isoformat + DRF's `Z`). */
export function drfDate(iso: string | null | undefined): string | null {
  if (!iso) return null;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return null;
  const s = d.toISOString();
  const ms = s.slice(20, 23);
  return ms === '000' ? `${s.slice(0, 19)}Z` : `${s.slice(0, 19)}.${ms}000Z`;
}

export const nowIso = () => new Date().toISOString();

function fromColumn(s: TSchema, v: unknown): unknown {
  if (v === null || v === undefined) return s.type === 'array' ? [] : null;
  if (s['x-json'] || s.type === 'array') return typeof v === 'string' ? JSON.parse(v) : v;
  if (s.type === 'boolean') return v === true || v === 1 || v === '1';
  if (s.format === 'date-time') return drfDate(String(v));
  if (s['x-emit-string']) return String(v);
  if (s.type === 'number' || s.type === 'integer') return Number(v);
  return v;
}

export function toColumn(s: TSchema, v: unknown): unknown {
  if (v === null || v === undefined) return v ?? null;
  if (s['x-json'] || s.type === 'array') return JSON.stringify(v);
  if (s.type === 'boolean') return v ? 1 : 0;
  if (s['x-emit-string']) return Number(v);
  return v;
}

type Field = readonly [key: string, schema: TSchema];
const readable = new WeakMap<Props, Field[]>();
const configFields = new WeakMap<Props, Field[]>();
function fieldsOf(cache: WeakMap<Props, Field[]>, props: Props, keep: (s: TSchema) => boolean): Field[] {
  let f = cache.get(props);
  if (!f) cache.set(props, (f = Object.entries(props).filter(([, s]) => keep(s))));
  return f;
}

/** Copies the readable, column-backed fields of a row into a response object (computed fields are added by callers). */
export function rowToApi(props: Props, row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of fieldsOf(readable, props, (s) => !s.writeOnly && !s['x-computed']))
    out[k] = fromColumn(s, (row as Record<string, unknown>)[k]);
  return out;
}

/** Like rowToApi, but keeps write-only fields too: the stage configuration the runtime needs (secrets included). */
export function rowToConfig(props: Props, row: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, s] of fieldsOf(configFields, props, (s) => !s['x-computed'])) out[k] = fromColumn(s, (row as Record<string, unknown>)[k]);
  return out;
}

/** Converts validated values into column values for the keys present. */
export function apiToRow(props: Props, data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    const s = props[k];
    if (!s || s['x-computed'] || s['x-m2m-table']) continue;
    out[k] = toColumn(s, v);
  }
  return out;
}
