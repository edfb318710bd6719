/**
 * Object attributes enforced (authentik's `AttributesMixinSerializer.validate` and `ObjectAttribute.run_validation`):
 * when a user's or group's `attributes` are written through the API (or a blueprint), each enabled attribute of that
 * model is checked at its path in them (dots separate nested keys) — required, of its type as DRF's fields take it
 * (text: a string or a number; number: an integer, also as a string; boolean: DRF's true and false spellings), matching
 * its pattern (whole value, as Python's `re.fullmatch`, on RE2: linear time), unique among the model's other objects —
 * and the first broken rule is a 400 on `attributes_<key>` with authentik's message.
 */
import { type Kysely, type RawBuilder, sql } from 'kysely';
import { RE2JS } from 're2js';
import type { DB } from '../db/index.js';
import { dialectOf } from '../db/dialect.js';
import { ValidationError } from '../rest/errors.js';
import type { ObjectAttributesTable } from './table.js';

/** the models with `attributes` Keystage serves (authentik's AttributesMixin models), as content types */
export const ATTRIBUTE_MODELS: Record<string, { id: number; verbosePlural: string; table: 'users' | 'groups'; pk: 'id' | 'group_uuid' }> = {
  // (the ids are those of Keystage's content types: src/users/export.ts gives users 1)
  'authentik_core.user': { id: 1, verbosePlural: 'Users', table: 'users', pk: 'id' },
  'authentik_core.group': { id: 3, verbosePlural: 'Groups', table: 'groups', pk: 'group_uuid' },
};

/** authentik's `get_path_from_dict`: the value at a dotted path, or undefined */
function valueAt(root: unknown, key: string): unknown {
  let cur = root;
  for (const part of key.split('.')) {
    if (!cur || typeof cur !== 'object' || Array.isArray(cur) || !(part in (cur as object))) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/** a value as Python's `str()` writes it */
const pyStr = (v: unknown): string =>
  typeof v === 'boolean' ? (v ? 'True' : 'False') : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);

const TRUE = new Set(['t', 'T', 'y', 'Y', 'yes', 'Yes', 'YES', 'true', 'True', 'TRUE', 'on', 'On', 'ON', '1']);
const FALSE = new Set(['f', 'F', 'n', 'N', 'no', 'No', 'NO', 'false', 'False', 'FALSE', 'off', 'Off', 'OFF', '0']);

/** DRF's field for the type: the message of its refusal, if it refuses */
function typeError(type: ObjectAttributesTable['type'], v: unknown): string | undefined {
  switch (type) {
    case 'text':
      return typeof v === 'string' || typeof v === 'number' ? undefined : 'Not a valid string.';
    case 'number': {
      if (typeof v === 'string' && v.length > 1000) return 'String value too large.';
      const s = typeof v === 'string' || typeof v === 'number' ? pyStr(v).replace(/\.0*\s*$/, '') : '';
      return /^\s*[+-]?\d+(_\d+)*\s*$/.test(s) ? undefined : 'A valid integer is required.';
    }
    case 'boolean':
      return typeof v === 'boolean' || v === 0 || v === 1 || (typeof v === 'string' && (TRUE.has(v) || FALSE.has(v)))
        ? undefined
        : 'Must be a valid boolean.';
    default:
      return 'Invalid field type';
  }
}

/** the pattern's error, if RE2 cannot take it (checked when an attribute is saved) */
export function patternError(regex: string): string | undefined {
  if (regex === '') return undefined;
  try {
    RE2JS.compile(regex);
    return undefined;
  } catch (e) {
    return `Invalid regular expression: ${e instanceof Error ? e.message : String(e)}`;
  }
}

/** whether another object of the model holds `value` at the attribute's path */
async function taken(
  db: DB,
  model: (typeof ATTRIBUTE_MODELS)[string],
  key: string,
  value: unknown,
  self?: string | number,
): Promise<boolean> {
  const parts = key.split('.');
  let cond: RawBuilder<unknown>;
  if (dialectOf(db) === 'postgres') cond = sql`(cast(attributes as jsonb) #> ${parts}::text[]) = cast(${JSON.stringify(value)} as jsonb)`;
  else {
    const path = `$${parts.map((p) => `."${p}"`).join('')}`;
    const type =
      typeof value === 'boolean'
        ? [value ? 'true' : 'false']
        : typeof value === 'number'
          ? ['integer', 'real']
          : typeof value === 'string'
            ? ['text']
            : [];
    if (!type.length) return false;
    const scalar = typeof value === 'boolean' ? Number(value) : (value as string | number);
    cond = sql`json_type(attributes, ${path}) in (${sql.join(type)}) and json_extract(attributes, ${path}) = ${scalar}`;
  }
  const row = await (db as unknown as Kysely<any>)
    .selectFrom(model.table)
    .select(model.pk)
    .where(cond as never)
    .$if(self !== undefined, (q) => q.where(model.pk, '!=', self))
    .limit(1)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * The object's `attributes` checked against the model's enabled attributes; `self` is the object being changed (its
 * own value is not a duplicate of itself).
 */
export async function checkAttributes(db: DB, objectType: string, attributes: unknown, self?: string | number): Promise<void> {
  const model = ATTRIBUTE_MODELS[objectType];
  if (!model) return;
  const defs = await db
    .selectFrom('object_attributes')
    .selectAll()
    .where('object_type', '=', objectType)
    .where('enabled', '=', 1 as never)
    .orderBy('key')
    .execute();
  for (const def of defs) {
    const field = `attributes_${def.key}`;
    const value = valueAt(attributes ?? {}, def.key);
    if (value === undefined || value === null) {
      if (def.is_required) throw ValidationError.field(field, 'This field is required');
      continue;
    }
    const wrong = typeError(def.type, value);
    if (wrong) throw ValidationError.field(field, wrong);
    if (def.regex !== '') {
      let p: RE2JS | undefined;
      try {
        p = RE2JS.compile(def.regex);
      } catch {
        // (refused when saved; one stored otherwise matches nothing: fail closed)
      }
      if (!p?.matches(pyStr(value))) throw ValidationError.field(field, 'Value does not match configured pattern.');
    }
    if (def.is_unique && (await taken(db, model, def.key, value, self))) throw ValidationError.field(field, 'Value is not unique.');
  }
}
