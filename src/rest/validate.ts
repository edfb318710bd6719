/**
 * DRF-compatible request validation driven by the TypeBox schemas (see schema.ts for the extra keywords).
 * Produces exactly the messages Django REST framework produces, so authentik clients show familiar errors.
 */
import type { TSchema } from '@sinclair/typebox';
import { sql } from 'kysely';
import type { DB } from '../db/index.js';
import { ValidationError, type FieldErrors } from './errors.js';
import { durationError, parseDuration } from './duration.js';
import type { Props, Ref, Unique } from './schema.js';

export type Mode = 'create' | 'update' | 'partial';

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
export const EMAIL_RE = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** Django's URLValidator, approximately: scheme://[user[:password]@]host[:port][/path?query#fragment] */
const URL_RE =
  /^[a-z][a-z0-9.+-]*:\/\/(?:[^\s:@/]+(?::[^\s@/]*)?@)?(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]*[a-z0-9\u00a1-\uffff])?(?:\.[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]*[a-z0-9\u00a1-\uffff])?)*\.?|\[[0-9a-f:.]+\]|\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?(?:[/?#][^\s]*)?$/i;
/** what DRF's BooleanField takes for true and false */
export const TRUE_VALUES = new Set<unknown>([
  't',
  'T',
  'y',
  'Y',
  'yes',
  'Yes',
  'YES',
  'true',
  'True',
  'TRUE',
  'on',
  'On',
  'ON',
  '1',
  1,
  true,
]);
export const FALSE_VALUES = new Set<unknown>([
  'f',
  'F',
  'n',
  'N',
  'no',
  'No',
  'NO',
  'false',
  'False',
  'FALSE',
  'off',
  'Off',
  'OFF',
  '0',
  0,
  false,
]);
export const MAX_LIST_ITEMS = 1000;
export const MAX_STRING = 65536;

/**
 * DRF's CharField (and Django's form CharField, so django-filter's filters) refuse U+0000 with this message; text
 * columns of PostgreSQL cannot hold it at all, and neither can its jsonb.
 */
export const NULL_CHARACTERS = 'Null characters are not allowed.';

/** whether a string anywhere in a JSON value (keys included) holds U+0000 (a body's nesting is bounded: json-body.ts) */
export function holdsNullCharacter(v: unknown): boolean {
  if (typeof v === 'string') return v.includes('\u0000');
  if (typeof v !== 'object' || v === null) return false;
  if (Array.isArray(v)) return v.some(holdsNullCharacter);
  for (const [k, x] of Object.entries(v)) if (k.includes('\u0000') || holdsNullCharacter(x)) return true;
  return false;
}

/** the field errors of request parameters (a query string) that hold U+0000, as django-filter's forms give them */
export function nullCharacterErrors(params: Record<string, unknown>): FieldErrors | undefined {
  const bad = Object.keys(params).filter((k) => holdsNullCharacter(params[k]) || k.includes('\u0000'));
  if (!bad.length) return undefined;
  return Object.fromEntries(bad.map((k) => [k.replaceAll('\u0000', ''), [NULL_CHARACTERS]]));
}

/** Python's type names, as DRF prints them. */
export function pyType(v: unknown): string {
  if (v === null) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  return 'dict';
}

export function isRequired(s: TSchema): boolean {
  return !s.readOnly && s.default === undefined && !s.nullable && !s['x-optional'];
}

export function normalizeUuid(v: string): string {
  const hex = v.replace(/-/g, '').toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export const isUuid = (v: string) => UUID_RE.test(v);

type Result = { ok: true; value: unknown } | { ok: false; error: string[] | FieldErrors };

const fail = (...m: string[]): Result => ({ ok: false, error: m });

function coerceString(s: TSchema, v: unknown): Result {
  let str: string;
  if (typeof v === 'string') str = v;
  else if (typeof v === 'number' && Number.isFinite(v)) str = String(v);
  else return fail('Not a valid string.');
  if (str.includes('\u0000')) return fail(NULL_CHARACTERS);
  if (!s['x-no-trim']) str = str.trim();
  if (str === '' && (s.minLength ?? 0) >= 1) return fail('This field may not be blank.');
  if (s.maxLength !== undefined && str.length > s.maxLength) return fail(`Ensure this field has no more than ${s.maxLength} characters.`);
  if (str.length > MAX_STRING) return fail(`Ensure this field has no more than ${MAX_STRING} characters.`);
  if (s.minLength !== undefined && s.minLength > 1 && str.length < s.minLength)
    return fail(`Ensure this field has at least ${s.minLength} characters.`);
  if (s.enum) {
    if (!(s.enum as unknown[]).includes(str)) return fail(`"${typeof v === 'string' ? v : String(v)}" is not a valid choice.`);
    return { ok: true, value: str };
  }
  if (s.pattern && str !== '' && !new RegExp(s.pattern).test(str)) {
    if (s['x-slug'] === 'drf') return fail('Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.');
    if (s['x-slug']) return fail('Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.');
    return fail('This value does not match the required pattern.');
  }
  if (s.format === 'email' && str !== '' && !EMAIL_RE.test(str)) return fail('Enter a valid email address.');
  if (s.format === 'uri' && str !== '' && !URL_RE.test(str)) return fail('Enter a valid URL.');
  if (s.format === 'uuid') {
    if (!isUuid(str)) return fail('Must be a valid UUID.');
    str = normalizeUuid(str);
  }
  if (s.format === 'date-time') {
    const d = new Date(str);
    if (!/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(str) || Number.isNaN(d.getTime()))
      return fail('Datetime has wrong format. Use one of these formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].');
    str = d.toISOString();
  }
  if (s['x-duration'] && parseDuration(str) === undefined) return fail(durationError(str));
  return { ok: true, value: str };
}

function coerceScalar(s: TSchema, v: unknown): Result {
  if (s.enum && s.type === 'string' && typeof v === 'boolean') return fail(`"${v ? 'True' : 'False'}" is not a valid choice.`);
  switch (s.type) {
    case 'string':
      return coerceString(s, v);
    case 'boolean':
      if (TRUE_VALUES.has(v)) return { ok: true, value: true };
      if (FALSE_VALUES.has(v)) return { ok: true, value: false };
      return fail('Must be a valid boolean.');
    case 'integer': {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && /^\s*[-+]?\d+(\.0*)?\s*$/.test(v) && v.length < 1000) n = Number(v);
      else return fail('A valid integer is required.');
      if (!Number.isInteger(n)) return fail('A valid integer is required.');
      if (s.maximum !== undefined && n > s.maximum) return fail(`Ensure this value is less than or equal to ${s.maximum}.`);
      if (s.minimum !== undefined && n < s.minimum) return fail(`Ensure this value is greater than or equal to ${s.minimum}.`);
      return { ok: true, value: n };
    }
    case 'number': {
      let n: number;
      if (typeof v === 'number') n = v;
      else if (typeof v === 'string' && v.trim() !== '' && v.length < 1000) n = Number(v);
      else return fail('A valid number is required.');
      if (!Number.isFinite(n)) return fail('A valid number is required.');
      if (s.maximum !== undefined && n > s.maximum) return fail(`Ensure this value is less than or equal to ${s.maximum}.`);
      if (s.minimum !== undefined && n < s.minimum) return fail(`Ensure this value is greater than or equal to ${s.minimum}.`);
      return { ok: true, value: n };
    }
    case 'object':
      if (typeof v !== 'object' || v === null || Array.isArray(v))
        return fail(`Expected a dictionary of items but got type "${pyType(v)}".`);
      if (holdsNullCharacter(v)) return fail(NULL_CHARACTERS);
      return { ok: true, value: v };
    default:
      return { ok: true, value: v };
  }
}

function coerceFkValue(v: unknown, ref?: Ref): Result {
  if (ref?.int) {
    if (typeof v === 'number' && Number.isInteger(v)) return { ok: true, value: v };
    if (typeof v === 'string' && /^\d{1,15}$/.test(v)) return { ok: true, value: Number(v) };
    return fail(`Incorrect type. Expected pk value, received ${pyType(v)}.`);
  }
  if (typeof v !== 'string') return fail(`Incorrect type. Expected pk value, received ${pyType(v)}.`);
  if (!isUuid(v)) return fail(`“${v}” is not a valid UUID.`);
  return { ok: true, value: normalizeUuid(v) };
}

function coerce(s: TSchema, v: unknown): Result {
  if (v === null) {
    if (s.nullable) return { ok: true, value: null };
    // older clients send null where newer schemas want "" (authentik 2024.12's friendly_name)
    if (s['x-null-as'] !== undefined) return { ok: true, value: s['x-null-as'] };
    return fail('This field may not be null.');
  }
  if (s['x-ref']) return coerceFkValue(v, s['x-ref'] as Ref);
  if (s.type === 'array') {
    if (!Array.isArray(v)) return fail(`Expected a list of items but got type "${pyType(v)}".`);
    if (v.length > MAX_LIST_ITEMS) return fail(`Ensure this field has no more than ${MAX_LIST_ITEMS} elements.`);
    if (v.length === 0 && s['x-allow-empty'] === false) return fail('This list may not be empty.');
    const items = s.items as TSchema;
    if (s['x-m2m']) {
      const out: (string | number)[] = [];
      for (const item of v) {
        const r = coerceFkValue(item, s['x-m2m'] as Ref);
        if (!r.ok) return r;
        out.push(r.value as string);
      }
      return { ok: true, value: out };
    }
    const out: unknown[] = [];
    const errs: FieldErrors = {};
    v.forEach((item, i) => {
      const r = item === null ? fail('This field may not be null.') : coerceScalar(items, item);
      if (r.ok) out.push(r.value);
      else errs[String(i)] = r.error as string[];
    });
    if (Object.keys(errs).length) return { ok: false, error: errs };
    return { ok: true, value: out };
  }
  return coerceScalar(s, v);
}

export interface ValidateOptions {
  mode: Mode;
  db: DB;
  /**
   * the stored row of the object being updated: uniqueness checks exclude it by its own key (`Unique.self`), so an
   * update that sends the object's unchanged unique value passes (DRF's UniqueValidator excludes the instance)
   */
  existing?: Record<string, unknown>;
}

/**
 * Validates a request body against the writable fields of `props`. Returns the cleaned values of the keys present
 * (plus defaults on create). Throws ValidationError with DRF's body on failure. Unknown and read-only keys are ignored.
 */
export async function validateBody(props: Props, body: unknown, opts: ValidateOptions): Promise<Record<string, unknown>> {
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body))
    throw ValidationError.nonField(`Invalid data. Expected a dictionary, but got ${pyType(body)}.`);
  const input = body as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const errors: FieldErrors = {};
  for (const [key, s] of Object.entries(props)) {
    if (s.readOnly) continue;
    if (!Object.hasOwn(input, key) || input[key] === undefined) {
      if (opts.mode === 'partial') continue;
      if (isRequired(s)) errors[key] = ['This field is required.'];
      else if (opts.mode === 'create') out[key] = s.default !== undefined ? structuredClone(s.default) : null;
      continue;
    }
    const r = coerce(s, input[key]);
    if (r.ok) out[key] = r.value;
    else errors[key] = r.error;
  }
  // database checks only for fields that passed the shape checks
  await checkReferences(props, out, opts, errors);
  if (Object.keys(errors).length) throw new ValidationError(errors);
  return out;
}

/**
 * The checks of validated values against other rows: references exist (`x-ref`, `x-m2m`) and unique values are
 * free (`x-unique`), adding DRF's messages to `errors` (fields already in error are skipped). Run by `validateBody`,
 * and again by a write inside its transaction once the admin-write lock is held (rest/resource.ts), so that two
 * concurrent writes cannot both pass them (the referenced object deleted, the name taken, in between).
 */
export async function checkReferences(
  props: Props,
  out: Record<string, unknown>,
  opts: { db: DB; existing?: Record<string, unknown> },
  errors: FieldErrors = {},
): Promise<FieldErrors> {
  for (const [key, s] of Object.entries(props)) {
    if (errors[key] || out[key] === undefined || out[key] === null) continue;
    const ref = (s['x-ref'] ?? s['x-m2m']) as Ref | undefined;
    if (ref) {
      const ids = (s['x-m2m'] ? out[key] : [out[key]]) as string[];
      const missing = await missingIds(opts.db, ref, ids);
      if (missing !== undefined) errors[key] = [`Invalid pk "${missing}" - object does not exist.`];
    }
    const uniq = s['x-unique'] as Unique | undefined;
    if (uniq && !errors[key]) {
      let q = opts.db
        .selectFrom(uniq.table as 'stages')
        .select(sql<number>`1`.as('one'))
        .where(uniq.column as 'name', '=', out[key] as string);
      if (opts.existing) {
        const own = opts.existing[uniq.self];
        if (own === undefined || own === null) throw new Error(`uniqueness of ${key}: the stored row has no ${uniq.self}`);
        q = q.where(uniq.self as 'name', '<>', own as string);
      }
      if (await q.executeTakeFirst()) errors[key] = [uniq.message];
    }
  }
  return errors;
}

/** First id (in the given order) that does not exist in the referenced table, or undefined. */
export async function missingIds(db: DB, ref: Ref, ids: (string | number)[]): Promise<string | undefined> {
  if (ids.length === 0) return undefined;
  // an integer key outside PostgreSQL's `integer` cannot exist (and would fail the query there): it is missing
  if (ref.int) {
    const outside = ids.find((id) => !(Number(id) >= -2147483648 && Number(id) <= 2147483647));
    if (outside !== undefined) return String(outside);
  }
  const unique = [...new Set(ids)];
  let q = db
    .selectFrom(ref.table as 'stages')
    .select(sql<string>`${sql.ref(ref.column)}`.as('id'))
    .where(ref.column as 'stage_uuid', 'in', unique as string[]);
  if (ref.kind) q = q.where('kind', '=', ref.kind);
  const found = new Set((await q.execute()).map((r) => String(r.id)));
  const miss = ids.find((id) => !found.has(String(id)));
  return miss === undefined ? undefined : String(miss);
}
