/**
 * A small DjangoQL subset (the query language of authentik's `?search=` on /core/users/, djangoql 0.19).
 *
 * Grammar (as djangoql's PLY grammar):
 *   expression := primary (("and" | "or") primary)*      -- no precedence: chains nest to the right, as PLY's
 *                                                           default shift makes them (`a and b or c` = `a and (b or c)`)
 *   primary    := "(" expression ")" | name op value
 *   name       := identifier ("." identifier)*           -- no blanks around the dots
 *   op/value   := ("=" | "!=") (number | string | True | False | None)
 *               | (">" | ">=" | "<" | "<=") (number | string)
 *               | ("~" | "!~" | "startswith" | "not startswith" | "endswith" | "not endswith") string
 *               | ("in" | "not in") "(" const ("," const)* ")"
 *   string     := '"' (char | \" | \\ | \/ | \b | \f | \n | \r | \t | \uXXXX)* '"'   -- djangoql keeps only the
 *                                                           character after a two-character escape (`\n` is "n")
 * Keywords are case-sensitive (`and`, `or`, `not`, `in`, `True`, `False`, `None`).
 *
 * Anything that does not lex or parse, names an unknown field or compares a field with a value of the wrong type is
 * a {@link DjangoQLError}; {@link compileDjangoQL} then returns `undefined` so the caller falls back to the plain
 * search, as authentik's QLSearch does. Conditions are built with Kysely's `sql` template: values are always bound
 * parameters, column names come from the field table, never from the query.
 */
import { sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';
import { isUuid, normalizeUuid } from './validate.js';

export type Dialect = 'sqlite' | 'postgres';
export type QLValue = string | number | boolean | null;
type CmpOp =
  | '='
  | '!='
  | '>'
  | '>='
  | '<'
  | '<='
  | '~'
  | '!~'
  | 'startswith'
  | 'not startswith'
  | 'endswith'
  | 'not endswith'
  | 'in'
  | 'not in';

export type QLNode =
  | { kind: 'logical'; op: 'and' | 'or'; left: QLNode; right: QLNode }
  | { kind: 'cmp'; name: string[]; op: CmpOp; value: QLValue | QLValue[] };

/** A searchable field: `column` is a trusted column reference (from code, never from the query). */
export type QLField =
  | { type: 'str'; column: string /** `=`/`in` values that are UUIDs are normalised first */; uuid?: boolean }
  | { type: 'bool'; column: string; nullable?: boolean }
  | { type: 'datetime'; column: string; nullable?: boolean }
  /** a JSON object stored as TEXT; reached as `<field>.<key>[.<key>…]` and compared with strings */
  | { type: 'json'; column: string };

export class DjangoQLError extends Error {}

/** input bounds: longer or deeper queries are not DjangoQL (the plain search applies) */
export const QL_LIMITS = { length: 4096, depth: 16, comparisons: 64, listItems: 100 } as const;

// ---------------------------------------------------------------------------------------------------------------
// lexer

type Tok =
  | { t: 'name'; v: string }
  | { t: 'str'; v: string }
  | { t: 'num'; v: number }
  | { t: 'kw'; v: 'and' | 'or' | 'not' | 'in' | 'startswith' | 'endswith' | 'True' | 'False' | 'None' }
  | { t: 'op'; v: '=' | '!=' | '>' | '>=' | '<' | '<=' | '~' | '!~' }
  | { t: 'punct'; v: '(' | ')' | ',' };

const KEYWORDS = new Set(['and', 'or', 'not', 'in', 'startswith', 'endswith', 'True', 'False', 'None']);
const BLANK = /[ \t\v\f\u00a0\n\r\u2028\u2029]+/y;
const NAME = /[_A-Za-z][_0-9A-Za-z]*(?:\.[_A-Za-z][_0-9A-Za-z]*)*(?![_0-9A-Za-z.])/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![_0-9A-Za-z.])/y;
const STRING = /"((?:\\["\\/bfnrt]|\\u[0-9A-Fa-f]{4}|[^"\\\n\r\u2028\u2029])*)"/y;
const OPERATOR = /!=|!~|>=|<=|=|~|>|<|\(|\)|,/y;

function unescapeString(s: string): string {
  return s.replace(/\\(u[0-9A-Fa-f]{4}|["\\/bfnrt])/g, (_, e: string) =>
    e.length === 5 ? String.fromCharCode(parseInt(e.slice(1), 16)) : e,
  );
}

export function lex(input: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  const at = (re: RegExp) => {
    re.lastIndex = i;
    const m = re.exec(input);
    if (m) i = re.lastIndex;
    return m;
  };
  while (i < input.length) {
    let m: RegExpExecArray | null;
    if (at(BLANK)) continue;
    if ((m = at(STRING))) out.push({ t: 'str', v: unescapeString(m[1]!) });
    else if ((m = at(NUMBER))) out.push({ t: 'num', v: Number(m[0]) });
    else if ((m = at(NAME))) {
      const w = m[0];
      out.push(KEYWORDS.has(w) ? ({ t: 'kw', v: w } as Tok) : { t: 'name', v: w });
    } else if ((m = at(OPERATOR))) {
      const v = m[0];
      out.push(v === '(' || v === ')' || v === ',' ? { t: 'punct', v } : ({ t: 'op', v } as Tok));
    } else throw new DjangoQLError(`Illegal character ${JSON.stringify(input[i])}`);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// parser

export function parseDjangoQL(input: string): QLNode {
  if (input.length > QL_LIMITS.length) throw new DjangoQLError('query too long');
  const toks = lex(input);
  let pos = 0;
  let comparisons = 0;
  const peek = () => toks[pos];
  const fail = (): never => {
    const t = toks[pos];
    throw new DjangoQLError(t ? `Syntax error at ${JSON.stringify(String(t.v)).slice(0, 20)}` : 'Unexpected end of input');
  };
  const isPunct = (t: Tok | undefined, v: string) => t?.t === 'punct' && t.v === v;
  const isKw = (t: Tok | undefined, v: string) => t?.t === 'kw' && t.v === v;

  const constant = (): QLValue => {
    const t = peek();
    if (!t) return fail();
    if (t.t === 'str' || t.t === 'num') {
      pos++;
      return t.v;
    }
    if (t.t === 'kw' && (t.v === 'True' || t.v === 'False' || t.v === 'None')) {
      pos++;
      return t.v === 'None' ? null : t.v === 'True';
    }
    return fail();
  };

  const comparison = (): QLNode => {
    const n = peek();
    if (n?.t !== 'name') return fail();
    pos++;
    if (++comparisons > QL_LIMITS.comparisons) throw new DjangoQLError('too many comparisons');
    const name = n.v.split('.');
    const t = peek();
    if (!t) return fail();
    let op: CmpOp;
    if (t.t === 'op') op = t.v;
    else if (isKw(t, 'in') || isKw(t, 'startswith') || isKw(t, 'endswith')) op = t.v as CmpOp;
    else if (isKw(t, 'not')) {
      const u = toks[pos + 1];
      if (!(isKw(u, 'in') || isKw(u, 'startswith') || isKw(u, 'endswith'))) {
        pos++;
        return fail();
      }
      pos++;
      op = `not ${u!.v}` as CmpOp;
    } else return fail();
    pos++;
    if (op === 'in' || op === 'not in') {
      if (!isPunct(peek(), '(')) return fail();
      pos++;
      const items = [constant()];
      while (isPunct(peek(), ',')) {
        pos++;
        items.push(constant());
        if (items.length > QL_LIMITS.listItems) throw new DjangoQLError('list too long');
      }
      if (!isPunct(peek(), ')')) return fail();
      pos++;
      return { kind: 'cmp', name, op, value: items };
    }
    const v = peek();
    // the value kinds each operator takes, as the grammar's comparison_* rules
    const ok =
      op === '=' || op === '!='
        ? v?.t === 'str' || v?.t === 'num' || (v?.t === 'kw' && (v.v === 'True' || v.v === 'False' || v.v === 'None'))
        : op === '>' || op === '>=' || op === '<' || op === '<='
          ? v?.t === 'str' || v?.t === 'num'
          : v?.t === 'str';
    if (!ok) return fail();
    return { kind: 'cmp', name, op, value: constant() };
  };

  const primary = (depth: number): QLNode => {
    if (isPunct(peek(), '(')) {
      if (depth >= QL_LIMITS.depth) throw new DjangoQLError('nested too deeply');
      pos++;
      const e = expression(depth + 1);
      if (!isPunct(peek(), ')')) return fail();
      pos++;
      return e;
    }
    return comparison();
  };

  const expression = (depth: number): QLNode => {
    const items = [primary(depth)];
    const ops: ('and' | 'or')[] = [];
    for (let t = peek(); isKw(t, 'and') || isKw(t, 'or'); t = peek()) {
      pos++;
      ops.push(t!.v as 'and' | 'or');
      items.push(primary(depth));
    }
    let node = items[items.length - 1]!;
    for (let i = items.length - 2; i >= 0; i--) node = { kind: 'logical', op: ops[i]!, left: items[i]!, right: node };
    return node;
  };

  const tree = expression(0);
  if (pos < toks.length) fail();
  return tree;
}

// ---------------------------------------------------------------------------------------------------------------
// compiler

type Cond = RawBuilder<SqlBool>;

const likeEscape = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
const codePoints = (s: string) => [...s].length;

/** `"YYYY-MM-DD"`, `"YYYY-MM-DD HH:MM"` or `"YYYY-MM-DD HH:MM:SS"` (UTC, authentik's TIME_ZONE) → stored ISO text */
function parseTimestamp(v: string): string {
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})(?: (\d{1,2}):(\d{1,2})(?::(\d{1,2}))?)?$/.exec(v);
  if (m) {
    const [y, mo, d, h, mi, s] = [m[1], m[2], m[3], m[4] ?? '0', m[5] ?? '0', m[6] ?? '0'].map(Number) as number[];
    const date = new Date(Date.UTC(y!, mo! - 1, d!, h!, mi!, s!));
    if (
      date.getUTCFullYear() === y &&
      date.getUTCMonth() === mo! - 1 &&
      date.getUTCDate() === d &&
      date.getUTCHours() === h &&
      date.getUTCMinutes() === mi &&
      date.getUTCSeconds() === s
    )
      return date.toISOString();
  }
  throw new DjangoQLError(`not a timestamp in "YYYY-MM-DD HH:MM" format: ${JSON.stringify(v)}`);
}

const typeError = (name: string[], v: QLValue): never => {
  throw new DjangoQLError(`Field "${name.join('.')}" can't be compared to ${JSON.stringify(v)}`);
};

function compileCmp(node: Extract<QLNode, { kind: 'cmp' }>, fields: Record<string, QLField>, dialect: Dialect): Cond {
  const field = fields[node.name[0]!];
  if (!field) throw new DjangoQLError(`Unknown field: ${node.name[0]}`);
  const keys = node.name.slice(1);
  if (field.type === 'json' ? keys.length === 0 : keys.length > 0) throw new DjangoQLError(`Unknown field: ${node.name.join('.')}`);
  const { op } = node;
  const negated = op === '!=' || op === '!~' || op === 'not in' || op === 'not startswith' || op === 'not endswith';
  const base = negated ? (op === '!=' ? '=' : op === '!~' ? '~' : op.slice(4)) : op;
  const values = Array.isArray(node.value) ? node.value : [node.value];
  const col = sql.ref(field.column);
  const ilike = dialect === 'postgres' ? sql`ilike` : sql`like`;

  // the value the column is compared with: text for str/datetime/json, 0/1 for booleans
  let lhs: Expression<unknown> = col;
  let prepare: (v: string | boolean) => unknown = (v) => v;
  /** the condition that makes a positive comparison applicable at all (JSON: the key holds a string) */
  let guard: Cond | undefined;
  let inList = (vs: unknown[]): Cond => sql<SqlBool>`${lhs} in (${sql.join(vs.map((v) => sql`${v}`))})`;
  let eq = (v: unknown): Cond => sql<SqlBool>`${lhs} = ${v}`;

  for (const v of values) {
    switch (field.type) {
      case 'str':
      case 'json':
        if (typeof v !== 'string') typeError(node.name, v);
        break;
      case 'bool':
        if (!(typeof v === 'boolean' || (v === null && field.nullable))) typeError(node.name, v);
        break;
      case 'datetime':
        if (!(typeof v === 'string' || (v === null && field.nullable))) typeError(node.name, v);
        if (typeof v === 'string' && v !== '' && base !== '~') parseTimestamp(v);
        break;
    }
  }
  if (field.type === 'bool' && base !== '=' && base !== 'in') throw new DjangoQLError('booleans take =, != and in');
  if (field.type === 'datetime' && (base === 'startswith' || base === 'endswith'))
    throw new DjangoQLError('timestamps take no startswith/endswith');

  if (field.type === 'str' && field.uuid) prepare = (v) => (typeof v === 'string' && isUuid(v) ? normalizeUuid(v) : v);
  if (field.type === 'bool') prepare = (v) => (v ? 1 : 0);
  if (field.type === 'datetime') prepare = (v) => (base === '~' ? v : parseTimestamp(v as string));
  if (field.type === 'datetime' && base === '~') lhs = sql`replace(${col}, 'T', ' ')`;
  if (field.type === 'json') {
    const path = keys;
    if (dialect === 'postgres') {
      const j = sql`(${col}::jsonb #> ${path}::text[])`;
      lhs = sql`(${col}::jsonb #>> ${path}::text[])`;
      // `=` and `in` compare JSON values: a JSON string equals the given string, nothing else does
      eq = (v) => sql<SqlBool>`${j} = to_jsonb(${v}::text)`;
      inList = (vs) => sql<SqlBool>`${j} in (${sql.join(vs.map((v) => sql`to_jsonb(${v}::text)`))})`;
      if (base !== '~') guard = sql<SqlBool>`jsonb_typeof(${j}) = 'string'`;
    } else {
      const p = '$' + path.map((k) => `."${k}"`).join('');
      // json_extract turns true/false into 1/0; render them (and null) as PostgreSQL's #>> does
      lhs = sql`(case json_type(${col}, ${p}) when 'true' then 'true' when 'false' then 'false' when 'null' then null else json_extract(${col}, ${p}) end)`;
      if (base !== '~') guard = sql<SqlBool>`json_type(${col}, ${p}) = 'text'`;
      eq = (v) => sql<SqlBool>`json_extract(${col}, ${p}) = ${v}`;
      inList = (vs) => sql<SqlBool>`json_extract(${col}, ${p}) in (${sql.join(vs.map((v) => sql`${v}`))})`;
    }
  }

  let cond: Cond;
  if (base === 'in') {
    // Django drops None from `__in` lists; an empty list matches nothing
    const vs = values.filter((v): v is string | boolean => v !== null).map((v) => prepare(v));
    cond = vs.length ? inList(vs) : sql<SqlBool>`1 = 0`;
  } else {
    const v = values[0]!;
    if (v === null || (field.type === 'datetime' && v === '')) {
      // `= None` (and djangoql's empty timestamp) is `IS NULL`; nothing else compares with None
      if (base !== '=') throw new DjangoQLError('None takes = and != only');
      return negated ? sql<SqlBool>`${col} is not null` : sql<SqlBool>`${col} is null`;
    }
    const pv = prepare(v as string | boolean);
    switch (base) {
      case '=':
        cond = eq(pv);
        break;
      case '>':
      case '>=':
      case '<':
      case '<=':
        cond = sql<SqlBool>`${lhs} ${sql.raw(base)} ${pv}`;
        break;
      case '~':
        cond = sql<SqlBool>`${lhs} ${ilike} ${`%${likeEscape(String(pv))}%`} escape '\\'`;
        break;
      case 'startswith': {
        const s = String(pv);
        cond = sql<SqlBool>`substr(${lhs}, 1, cast(${codePoints(s)} as integer)) = ${s}`;
        break;
      }
      case 'endswith': {
        const s = String(pv);
        cond = sql<SqlBool>`substr(${lhs}, length(${lhs}) - cast(${codePoints(s)} as integer) + 1) = ${s}`;
        break;
      }
      default:
        throw new DjangoQLError(`unsupported operator ${op}`);
    }
  }
  if (guard) cond = sql<SqlBool>`(${guard} and ${cond})`;
  // Django's exclude(): a row whose value is missing (NULL) is "not equal", so negate what is known to be true
  return negated ? sql<SqlBool>`not coalesce((${cond}), false)` : sql<SqlBool>`(${cond})`;
}

function compileNode(node: QLNode, fields: Record<string, QLField>, dialect: Dialect): Cond {
  if (node.kind === 'cmp') return compileCmp(node, fields, dialect);
  const l = compileNode(node.left, fields, dialect);
  const r = compileNode(node.right, fields, dialect);
  return node.op === 'and' ? sql<SqlBool>`(${l} and ${r})` : sql<SqlBool>`(${l} or ${r})`;
}

/**
 * Parses and compiles `search` against `fields`; `undefined` when it is not valid DjangoQL for these fields (the
 * caller then applies the plain search).
 */
export function compileDjangoQL(search: string, fields: Record<string, QLField>, dialect: Dialect): Cond | undefined {
  if (search.replace(/\0/g, '').trim() === '') return undefined;
  try {
    return compileDjangoQLStrict(search, fields, dialect);
  } catch (e) {
    if (e instanceof DjangoQLError) return undefined;
    throw e;
  }
}

/** as compileDjangoQL, but a query that is not valid DjangoQL for these fields throws its DjangoQLError (a stored query) */
export function compileDjangoQLStrict(query: string, fields: Record<string, QLField>, dialect: Dialect): Cond {
  const input = query.replace(/\0/g, '');
  if (input.trim() === '') throw new DjangoQLError('The query is empty');
  return compileNode(parseDjangoQL(input), fields, dialect);
}
