/**
 * authentik list conventions: page/page_size pagination with the `pagination` object, `ordering` (unknown names
 * dropped), `search` (every term must match some search field, case-insensitive substring) and exact filters with
 * django-filter's 400 messages.
 */
import { systemSettings } from '../instance/system-settings/store.js';
import { createHash, timingSafeEqual } from 'node:crypto';
import { sql, type Expression, type SelectQueryBuilder, type SqlBool, type ExpressionBuilder } from 'kysely';
import type { DB } from '../db/index.js';
import { NotFound, ValidationError, type FieldErrors } from './errors.js';
import { isUuid, missingIds, normalizeUuid } from './validate.js';
import type { Ref } from './schema.js';
import { cachedAdminData, hasAdminCache } from '../db/admin-cache.js';
import { dialectOf } from '../db/dialect.js';
import { secretsOf } from '../instance/secrets.js';

export type Query = Record<string, string | string[] | undefined>;
type QB = SelectQueryBuilder<any, any, any>;
type EB = ExpressionBuilder<any, any>;

export type FilterSpec =
  | {
      type: 'str' | 'int' | 'bool' | 'uuid' | 'datetime';
      column: string;
      /** `icontains`: case-insensitive substring (strings only) */
      op?: '=' | '>' | '<' | 'startswith' | 'icontains';
    }
  | { type: 'isnull'; column: string }
  | { type: 'enum'; column: string; values: readonly string[] }
  | { type: 'fk'; column: string; ref: Ref }
  /** repeated key; rows related (through `exists`) to any of the given pks (integers when `ref.int`) */
  | {
      type: 'm2m';
      ref: Ref;
      /** (method syntax: a filter over UUIDs or names may declare `ids: string[]`) */
      exists(eb: EB, ids: (string | number)[]): Expression<SqlBool>;
      /** values are names, not primary keys */
      byName?: boolean;
    }
  /**
   * exact match on a secret stored encrypted (instance/secrets.ts) in `column`, `field` (`table.column`) naming it for
   * decryption: compared in constant time against every candidate row's decrypted value, in this process, for
   * superusers only; the value itself never leaves the server
   */
  | { type: 'secret'; column: string; field: string }
  /** parses the (possibly repeated) values; returns messages for a 400 or a condition */
  | {
      type: 'custom';
      parse: (
        values: string[],
        dialect: 'sqlite' | 'postgres',
      ) => { error: string[] } | { cond: ((eb: EB) => Expression<SqlBool>) | undefined };
      /** the parameter's schema in the OpenAPI document (default: a string); `explode` for a repeated key */
      schema?: Record<string, unknown>;
      explode?: boolean;
    };

export interface ListSpec {
  filters: Record<string, FilterSpec>;
  /**
   * model fields a blueprint's identifiers (and `!Find`) may name besides the filters (authentik matches any model
   * field there): field → its column (`int`: holds integers)
   */
  identifierColumns?: Record<string, { column: string; int?: boolean }>;
  /** column references searched by `search` */
  search: string[];
  /** api ordering name → column reference */
  ordering: Record<string, string>;
  defaultOrdering: string[];
  /** unique column reference used as the final tiebreaker */
  pk: string;
  /** other unique columns: an ordering that ends in one needs no tiebreaker (so an index can serve it) */
  unique?: string[];
  /** tried before the plain search (e.g. DjangoQL); `undefined` means "not a query", so the plain search applies */
  searchQuery?: (search: string, dialect: 'sqlite' | 'postgres') => ((eb: EB) => Expression<SqlBool>) | undefined;
  /** the list's count may be kept until the next admin write (db/admin-cache.ts): tables only admin writes change */
  cacheCount?: boolean;
  /**
   * with `cacheCount`: the rows' query for a lookup by key (`pk in …`), without conditions an index would be
   * preferred for; its presence lets a list keep its ordered keys, so pages are slices
   */
  byKeys?: (db: DB) => QB;
}

export interface Page<T> {
  pagination: {
    next: number;
    previous: number;
    count: number;
    current: number;
    total_pages: number;
    start_index: number;
    end_index: number;
  };
  results: T[];
  autocomplete: Record<string, unknown>;
}

const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[v.length - 1] : v);
const all = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function parseBool(v: string): boolean | undefined {
  const l = v.toLowerCase();
  if (l === 'true' || l === '1') return true;
  if (l === 'false' || l === '0') return false;
  return undefined;
}

/**
 * a boolean filter (`true`/`false`/`1`/`0`; anything else a 400, as DRF's BooleanFilter) with the condition `cond`
 * gives for the value (`application__isnull`, `is_backchannel`, …)
 */
export function boolFilter(cond: (b: boolean) => (eb: EB) => Expression<SqlBool>): FilterSpec {
  return {
    type: 'custom',
    parse: (values) => {
      const v = values.at(-1);
      if (v === undefined || v === '') return { cond: undefined };
      const b = parseBool(v);
      if (b === undefined) return { error: ['Enter a valid boolean.'] };
      return { cond: cond(b) };
    },
    schema: { type: 'boolean' },
  };
}

/** search terms: whitespace/comma separated, double-quoted phrases kept together */
export function searchTerms(search: string): string[] {
  const terms: string[] = [];
  const re = /"([^"]*)"|([^\s,]+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(search))) {
    const t = (m[1] ?? m[2] ?? '').trim();
    if (t) terms.push(t);
  }
  return terms.slice(0, 20);
}

const likeEscape = (s: string) => s.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);

/** case-insensitive substring: PostgreSQL's ILIKE; SQLite's LIKE already ignores ASCII case (as Django's `icontains` there) */
function icontains(column: string, term: string, dialect: 'sqlite' | 'postgres') {
  const pat = `%${likeEscape(term)}%`;
  return (eb: EB) => eb(sql.ref(column), dialect === 'postgres' ? 'ilike' : 'like', sql<string>`${pat} escape '\\'`);
}

/** a Django decimal (NumberFilter): digits with an optional fraction and exponent */
const INT_MIN = -2147483648;
const INT_MAX = 2147483647;
const NUMBER_RE = /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

interface SecretCheck {
  name: string;
  filter: Extract<FilterSpec, { type: 'secret' }>;
  value: string;
}

interface Where {
  conds: ((eb: EB) => Expression<SqlBool>)[];
  secrets: SecretCheck[];
}

/** `base` narrowed by the list's filters and search from `query`, unordered and unpaged (an aggregate's rows) */
export async function filtered<Q extends QB>(db: DB, base: Q, spec: ListSpec, query: Query): Promise<Q> {
  const { conds } = await buildWhere(db, spec, query);
  let q = base;
  for (const c of conds) q = q.where(c) as Q;
  return q;
}

async function buildWhere(db: DB, spec: ListSpec, query: Query): Promise<Where> {
  const errors: FieldErrors = {};
  const dialect = dialectOf(db);
  const conds: ((eb: EB) => Expression<SqlBool>)[] = [];
  const secrets: SecretCheck[] = [];
  for (const [name, f] of Object.entries(spec.filters)) {
    const raw = query[name];
    if (raw === undefined) continue;
    const v = first(raw) ?? '';
    switch (f.type) {
      case 'str':
        if (v === '') break;
        if (f.op === 'startswith') {
          // case-sensitive prefix (Django's `startswith`) in both dialects; SQLite's LIKE would ignore case
          conds.push(() => sql<SqlBool>`substr(${sql.ref(f.column)}, 1, ${v.length}) = ${v}`);
        } else if (f.op === 'icontains') conds.push(icontains(f.column, v, dialect));
        else conds.push((eb) => eb(sql.ref(f.column), '=', v));
        break;
      case 'secret':
        if (v !== '') secrets.push({ name, filter: f, value: v });
        break;
      case 'int': {
        if (v === '') break;
        if (!NUMBER_RE.test(v.trim()) || !Number.isFinite(Number(v))) {
          errors[name] = ['Enter a number.'];
          break;
        }
        // integer columns: Django compares int(value) (25.5 → 25), and a value beyond the column's 32-bit range
        // matches nothing (EmptyResultSet) where PostgreSQL would fail the statement
        const n = Math.trunc(Number(v));
        if (n < INT_MIN || n > INT_MAX) conds.push(() => sql<SqlBool>`1 = 0`);
        else conds.push((eb) => eb(sql.ref(f.column), f.op === '>' ? '>' : f.op === '<' ? '<' : '=', n));
        break;
      }
      case 'bool': {
        const b = parseBool(v);
        if (b !== undefined) conds.push((eb) => eb(sql.ref(f.column), '=', b ? 1 : 0));
        break;
      }
      case 'isnull': {
        const b = parseBool(v);
        if (b !== undefined) conds.push((eb) => (b ? eb(sql.ref(f.column), 'is', null) : eb(sql.ref(f.column), 'is not', null)));
        break;
      }
      case 'datetime': {
        if (v === '') break;
        const d = new Date(v);
        if (Number.isNaN(d.getTime())) {
          errors[name] = ['Enter a valid date/time.'];
          break;
        }
        const iso = d.toISOString();
        conds.push((eb) => eb(sql.ref(f.column), f.op === '>' ? '>' : f.op === '<' ? '<' : '=', iso));
        break;
      }
      case 'uuid':
        if (v === '') break;
        if (!isUuid(v)) errors[name] = ['Enter a valid UUID.'];
        else conds.push((eb) => eb(sql.ref(f.column), '=', normalizeUuid(v)));
        break;
      case 'enum':
        if (v === '') break;
        if (!f.values.includes(v)) errors[name] = [`Select a valid choice. ${v} is not one of the available choices.`];
        else conds.push((eb) => eb(sql.ref(f.column), '=', v));
        break;
      case 'fk': {
        if (v === '') break;
        const bad = ['Select a valid choice. That choice is not one of the available choices.'];
        if (!isUuid(v)) errors[name] = bad;
        else if ((await missingIds(db, f.ref, [normalizeUuid(v)])) !== undefined) errors[name] = bad;
        else conds.push((eb) => eb(sql.ref(f.column), '=', normalizeUuid(v)));
        break;
      }
      case 'm2m': {
        const vals = all(raw).filter((x) => x !== '');
        if (vals.length === 0) break;
        const badOne = f.byName ? undefined : vals.find((x) => (f.ref.int ? !/^-?\d{1,15}$/.test(x) : !isUuid(x)));
        if (badOne !== undefined) {
          // (Django's ModelMultipleChoiceField: an integer key that does not parse is "not a valid value")
          errors[name] = [f.ref.int ? `“${badOne}” is not a valid value.` : `“${badOne}” is not a valid UUID.`];
          break;
        }
        const ids = f.byName ? vals : f.ref.int ? vals.map(Number) : vals.map(normalizeUuid);
        const missing = await missingIds(db, f.ref, ids);
        if (missing !== undefined) {
          errors[name] = [`Select a valid choice. ${missing} is not one of the available choices.`];
          break;
        }
        conds.push((eb) => f.exists(eb, ids));
        break;
      }
      case 'custom': {
        const r = f.parse(all(raw), dialect);
        if ('error' in r) errors[name] = r.error;
        else if (r.cond) conds.push(r.cond);
        break;
      }
    }
  }
  if (Object.keys(errors).length) throw new ValidationError(errors);
  const search = first(query.search);
  const searchCond = search ? spec.searchQuery?.(search, dialect) : undefined;
  if (searchCond) conds.push(searchCond);
  else if (search && spec.search.length) {
    for (const term of searchTerms(search)) conds.push((eb) => eb.or(spec.search.map((c) => icontains(c, term, dialect)(eb))));
  }
  return { conds, secrets };
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * The condition of the secret filters: the keys of the rows (among those `q` selects) whose decrypted secrets equal
 * every given value. Every candidate is decrypted and compared (SHA-256 digests, timingSafeEqual), match or not.
 */
async function secretMatches(db: DB, spec: ListSpec, q: QB, checks: SecretCheck[]): Promise<(eb: EB) => Expression<SqlBool>> {
  const keyring = secretsOf(db);
  const rows = (await q
    .clearSelect()
    .clearOrderBy()
    .select([sql.ref(spec.pk).as(KEY), ...checks.map((c, i) => sql.ref(c.filter.column).as(`__secret_${i}`))])
    .execute()) as Record<string, unknown>[];
  const wanted = checks.map((c) => digest(c.value));
  const keys: unknown[] = [];
  for (const r of rows) {
    let all = true;
    checks.forEach((c, i) => {
      const stored = r[`__secret_${i}`];
      let plain = '';
      try {
        plain = typeof stored === 'string' ? keyring.open(c.filter.field, stored) : '';
      } catch {
        // an unreadable value (the process refuses to start with one) matches nothing
        plain = '';
      }
      // an unset secret ('') matches nothing: an empty filter value is no filter
      const same = timingSafeEqual(digest(plain), wanted[i]!) && plain !== '';
      all = all && same;
    });
    if (all) keys.push(r[KEY]);
  }
  return keys.length ? (eb) => eb(sql.ref(spec.pk), 'in', keys) : () => sql<SqlBool>`1 = 0`;
}

export function orderingOf(spec: ListSpec, query: Query): { column: string; desc: boolean }[] {
  const wanted = (first(query.ordering) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => ({ name: s.replace(/^-/, ''), desc: s.startsWith('-') }))
    // (own names only: `?ordering=toString` names no column)
    .filter((o) => Object.hasOwn(spec.ordering, o.name));
  const chosen = wanted.length ? wanted : spec.defaultOrdering.map((s) => ({ name: s.replace(/^-/, ''), desc: s.startsWith('-') }));
  return chosen.map((o) => ({ column: spec.ordering[o.name] ?? o.name, desc: o.desc }));
}

/** `q` in the list's ordering (`?ordering=`, else the default), ended by the pk unless the last column is unique */
export function inOrder<Q extends QB>(spec: ListSpec, q: Q, query: Query): Q {
  const ordering = orderingOf(spec, query);
  let ordered = q;
  for (const o of ordering) ordered = ordered.orderBy(sql.ref(o.column), o.desc ? 'desc' : 'asc') as Q;
  const last = ordering[ordering.length - 1]?.column;
  if (last !== spec.pk && !(last && spec.unique?.includes(last))) ordered = ordered.orderBy(sql.ref(spec.pk), 'asc') as Q;
  return ordered;
}

/**
 * the page asked for; its size as requested, else the system settings' `pagination_default_page_size`, never above
 * `pagination_max_page_size` (a setting of 0 counts as 1)
 */
export function pageParams(query: Query, sizes = { byDefault: 20, max: 100 }): { page: number | 'last'; size: number } {
  const sizeRaw = Number(first(query.page_size));
  const max = Math.max(1, sizes.max);
  const size = Math.min(Number.isInteger(sizeRaw) && sizeRaw > 0 ? sizeRaw : Math.max(1, sizes.byDefault), max);
  const p = first(query.page);
  if (p === undefined || p === '') return { page: 1, size };
  if (p === 'last') return { page: 'last', size };
  if (!/^\d+$/.test(p)) throw NotFound.invalidPage();
  const n = Number(p);
  if (n < 1) throw NotFound.invalidPage();
  return { page: n, size };
}

/** lists this long or shorter keep their ordered keys (db/admin-cache.ts); longer ones count and page in SQL */
const MAX_KEPT_KEYS = 10_000;
const KEY = '__list_key';

/** a cache key naming a query by its SQL and parameters */
function queryKey(kind: string, q: QB): string {
  const compiled = q.compile();
  return `${kind}:${compiled.sql}\u0000${JSON.stringify(compiled.parameters)}`;
}

async function countOf(db: DB, spec: ListSpec, q: QB): Promise<number> {
  const countQuery = q.clearSelect().clearOrderBy().select(sql<number>`count(*)`.as('c'));
  const run = async () => Number(((await countQuery.executeTakeFirst()) as { c: number | string } | undefined)?.c ?? 0);
  return spec.cacheCount ? cachedAdminData(db, queryKey('count', countQuery), run) : run();
}

/**
 * Every matching row's key in list order, kept until the next admin write, so a page is a slice and a lookup of its
 * rows by key instead of a count and a scan past the offset; undefined when the list is longer than MAX_KEPT_KEYS.
 */
async function keptOrderedKeys(db: DB, spec: ListSpec, ordered: QB): Promise<readonly unknown[] | undefined> {
  const keys = ordered
    .clearSelect()
    .select(sql.ref(spec.pk).as(KEY))
    .limit(MAX_KEPT_KEYS + 1);
  const list = await cachedAdminData(
    db,
    queryKey('keys', keys),
    async () => {
      const rows = (await keys.execute()) as Record<string, unknown>[];
      return rows.length > MAX_KEPT_KEYS ? null : rows.map((r) => r[KEY]);
    },
    true,
  );
  return list ?? undefined;
}

/** the rows with these keys, in the keys' order (`base`: no filters, they chose the keys already) */
async function rowsByKeys(spec: ListSpec, base: QB, keys: readonly unknown[]): Promise<Record<string, unknown>[]> {
  if (!keys.length) return [];
  const rows = (await base
    .select(sql.ref(spec.pk).as(KEY))
    .where(sql.ref(spec.pk), 'in', keys as unknown[])
    .execute()) as Record<string, unknown>[];
  const byKey = new Map(rows.map((r) => [r[KEY], r]));
  // (the key column stays on the rows: renderers copy the fields they know)
  return keys.flatMap((k) => {
    const r = byKey.get(k);
    return r ? [r] : [];
  });
}

/**
 * Runs a paginated list. `base` selects the rows (with joins); filters, search, ordering and paging are applied here;
 * `render` turns the page's rows into response objects (in one batch, so computed fields cost one query per page).
 */
export async function paginate<R, T>(
  db: DB,
  base: QB,
  spec: ListSpec,
  query: Query,
  render: (rows: R[]) => Promise<T[]>,
  caller: { superuser: boolean } = { superuser: false },
): Promise<Page<T>> {
  const { conds, secrets } = await buildWhere(db, spec, query);
  if (secrets.length && !caller.superuser)
    throw new ValidationError(Object.fromEntries(secrets.map((c) => [c.name, ['Only superusers may filter by a secret.']])));
  const settings = await systemSettings(db);
  const { page: pageReq, size } = pageParams(query, {
    byDefault: settings.pagination_default_page_size,
    max: settings.pagination_max_page_size,
  });
  let q = base;
  for (const c of conds) q = q.where(c);
  if (secrets.length) q = q.where(await secretMatches(db, spec, q, secrets));
  const ordered = inOrder(spec, q, query);

  const keys = spec.cacheCount && spec.byKeys && hasAdminCache(db) ? await keptOrderedKeys(db, spec, ordered) : undefined;
  const count = keys ? keys.length : await countOf(db, spec, q);
  const totalPages = Math.max(1, Math.ceil(count / size));
  const page = pageReq === 'last' ? totalPages : pageReq;
  if (page > totalPages) throw NotFound.invalidPage();
  const offset = (page - 1) * size;
  const rows = (
    keys ? await rowsByKeys(spec, spec.byKeys!(db), keys.slice(offset, offset + size)) : await ordered.limit(size).offset(offset).execute()
  ) as R[];
  const results = await render(rows);
  const start = count === 0 ? 0 : (page - 1) * size + 1;
  return {
    pagination: {
      next: page < totalPages ? page + 1 : 0,
      previous: page > 1 ? page - 1 : 0,
      count,
      current: page,
      total_pages: totalPages,
      start_index: start,
      end_index: count === 0 ? 0 : start + rows.length - 1,
    },
    results,
    autocomplete: {},
  };
}
