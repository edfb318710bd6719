/**
 * `User.objects…` in expressions: the read-only part of Django's QuerySet over authentik's users that Keystage
 * answers (the sandbox's `authentik.core.models.User`, src/expressions/runtime-py.ts, builds the description; this
 * runs it). Only the users table; a few fields and lookups; every value a bound parameter (never SQL text), compared
 * the same way on SQLite and PostgreSQL: `i…` lookups compare lower() of both sides (SQLite's lower() folds ASCII
 * letters only), `contains`/`startswith` use instr/strpos and substr, so `%` and `_` match themselves.
 */
import { sql, type Expression, type ExpressionBuilder, type SqlBool } from 'kysely';
import type { Database, DB, Dialect, UsersTable } from '../../db/types.js';
import type { Json, JsonObject } from '../../expressions/index.js';
import { policyUser } from '../request.js';

/** the most users a query hands Python (iterating, `get`): one more is an error, never a silently shortened list */
export const USER_QUERY_CAP = 100;

/** authentik's field names → the users table's columns */
const FIELDS = {
  pk: 'id',
  id: 'id',
  username: 'username',
  email: 'email',
  name: 'name',
  uuid: 'uuid',
  is_active: 'is_active',
  path: 'path',
  type: 'type',
} as const;
type Field = keyof typeof FIELDS;
type Column = (typeof FIELDS)[Field];

/** the most values one `__in` lookup takes (each a bound parameter; SQLite allows 32766 in a statement) */
const MAX_IN = 1000;
const TEXT_OPS = new Set(['iexact', 'startswith', 'istartswith', 'contains', 'icontains']);
const NUMBER_COLUMNS = new Set<Column>(['id', 'is_active']);

/** one `filter(**lookups)` (negate false) or `exclude(**lookups)` (negate true) */
export interface UserQueryStep {
  negate: boolean;
  lookups: JsonObject;
}

export interface UserQuery {
  steps: UserQueryStep[];
  /** exists: a boolean; count: a number; list: up to `limit` users (ordered by pk) */
  mode: 'exists' | 'count' | 'list';
  limit?: number;
}

type EB = ExpressionBuilder<Database, 'users'>;

class LookupError extends Error {}

function scalar(column: Column, field: string, value: Json): string | number {
  if (NUMBER_COLUMNS.has(column)) {
    if (typeof value === 'boolean') return value ? 1 : 0;
    if (typeof value === 'number' && Number.isInteger(value)) return value;
    if (typeof value === 'string' && /^-?\d{1,15}$/.test(value.trim())) return Number(value.trim());
    throw new LookupError(`Field '${field}' expected a number but got ${JSON.stringify(value)}.`);
  }
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new LookupError(`Field '${field}' expected a string but got ${JSON.stringify(value)}.`);
}

const text = (eb: EB, v: string) => eb.cast<string>(eb.val(v), 'text');
const col = (eb: EB, c: Column) => eb.cast<string>(eb.ref(c), 'text');
const lower = (eb: EB, e: Expression<string>) => eb.fn<string>('lower', [e]);

function condition(eb: EB, dialect: Dialect, key: string, value: Json): Expression<SqlBool> {
  const [field, op = 'exact', ...rest] = key.split('__');
  const column = Object.hasOwn(FIELDS, field as string) ? FIELDS[field as Field] : undefined;
  if (!column) throw new LookupError(`Cannot resolve keyword '${field}' into field (User.objects: ${Object.keys(FIELDS).join(', ')})`);
  if (rest.length || !(op === 'exact' || op === 'in' || TEXT_OPS.has(op)))
    throw new LookupError(`Unsupported lookup '${key.slice((field as string).length + 2)}' for field '${field}'`);
  if (TEXT_OPS.has(op) && NUMBER_COLUMNS.has(column)) throw new LookupError(`Unsupported lookup '${op}' for field '${field}'`);
  if (op === 'in') {
    if (!Array.isArray(value)) throw new LookupError(`'${key}' takes a list`);
    if (value.length > MAX_IN) throw new LookupError(`'${key}' takes at most ${MAX_IN} values`);
    const values = value.filter((v) => v !== null).map((v) => scalar(column, field as string, v));
    return values.length ? eb(eb.ref(column), 'in', values as never) : sql<SqlBool>`1 = 0`;
  }
  if (value === null) {
    if (op === 'exact' || op === 'iexact') return eb(eb.ref(column), 'is', null);
    throw new LookupError('Cannot use None as a query value');
  }
  const v = scalar(column, field as string, value);
  if (op === 'exact') return eb(eb.ref(column), '=', v as never);
  const s = String(v);
  const ci = op.startsWith('i');
  const target = ci ? lower(eb, col(eb, column)) : col(eb, column);
  const needle = ci ? lower(eb, text(eb, s)) : text(eb, s);
  if (op === 'iexact') return eb(target, '=', needle);
  if (op.endsWith('startswith')) return eb(eb.fn('substr', [target, eb.val(1), eb.fn('length', [needle])]), '=', needle);
  // contains: a position, not LIKE, so that % and _ in the value are plain characters
  const position = dialect === 'postgres' ? eb.fn<number>('strpos', [target, needle]) : eb.fn<number>('instr', [target, needle]);
  return eb(position, '>', 0);
}

/** what `user_query` answers Python; an error's message reaches the expression as a ValueError */
export async function userQuery(db: DB, dialect: Dialect, query: UserQuery): Promise<Json> {
  if (!query || !Array.isArray(query.steps)) throw new Error('user_query: a list of steps is expected');
  for (const step of query.steps)
    if (!step || typeof step.lookups !== 'object' || step.lookups === null || Array.isArray(step.lookups))
      throw new LookupError('user_query: each step takes lookups');
  // filter(), exclude() and all() without lookups change nothing (as Django's)
  const steps = query.steps.filter((step) => Object.keys(step.lookups).length > 0);
  const where = (eb: EB) =>
    steps.length === 0
      ? sql<SqlBool>`1 = 1`
      : eb.and(
          steps.map((step) => {
            const all = eb.and(Object.entries(step.lookups).map(([k, v]) => condition(eb, dialect, k, v)));
            return step.negate ? eb.not(all) : all;
          }),
        );
  if (query.mode === 'exists') {
    const row = await db.selectFrom('users').select('id').where(where).limit(1).executeTakeFirst();
    return row !== undefined;
  }
  if (query.mode === 'count') {
    const row = await db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .where(where)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }
  if (query.mode === 'list') {
    const limit = Math.max(0, Math.min(Number.isInteger(query.limit) ? (query.limit as number) : USER_QUERY_CAP + 1, USER_QUERY_CAP + 1));
    const rows = await db.selectFrom('users').selectAll().where(where).orderBy('id').limit(limit).execute();
    return rows.map((u) => policyUser(u as UsersTable) as JsonObject);
  }
  throw new Error('user_query: unknown mode');
}
