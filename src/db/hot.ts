/**
 * Hot queries: built once with the query builder, compiled once, then executed with fresh parameters. Kysely's
 * builder is immutable and allocation-heavy; for the few queries every executor request runs, this removes it
 * from the request path. The builder marks each parameter with a unique placeholder value so the order of the
 * compiled parameters is known.
 */
import { CompiledQuery, type Compilable } from 'kysely';
import type { DB } from './types.js';

/** `on`: a transaction of the same database to run in (the database itself when absent) */
export type Hot<P extends Record<string, unknown>, R> = (params: P, on?: DB) => Promise<R[]>;
/** a hot write: resolves to the number of rows it changed */
export type HotWrite<P extends Record<string, unknown>> = (params: P, on?: DB) => Promise<number>;

/** compiles `build` once; returns a function of fresh parameters giving the compiled query to execute */
export function precompiled<P extends Record<string, unknown>, R>(
  names: (keyof P & string)[],
  build: (p: Record<keyof P & string, any>) => Compilable<R>,
) {
  const marks = Object.fromEntries(names.map((n) => [n, `\u0000hot:${n}\u0000`])) as Record<keyof P & string, string>;
  const compiled = build(marks).compile();
  const order = compiled.parameters.map((p) => {
    const name = names.find((n) => marks[n] === p);
    return name === undefined ? { fixed: p } : { name };
  });
  return (params: P) =>
    CompiledQuery.raw(
      compiled.sql,
      order.map((o) => ('name' in o ? params[o.name as keyof P] : o.fixed)),
    );
}

/** `build` receives placeholder values (one per named parameter) and must use each exactly where it belongs */
export function hot<P extends Record<string, unknown>, R>(
  db: DB,
  names: (keyof P & string)[],
  build: (p: Record<keyof P & string, any>) => Compilable<R>,
): Hot<P, R> {
  const query = precompiled(names, build);
  return async (params, on = db) => (await on.executeQuery<R>(query(params))).rows;
}

/**
 * `make(db)` once per database, kept for as long as that database object lives: where a module's hot queries are
 * built (a server, and each test's server, has its own database object)
 */
export function perDatabase<T>(make: (db: DB) => T): (db: DB) => T {
  const made = new WeakMap<DB, T>();
  return (db) => {
    let v = made.get(db);
    if (v === undefined) made.set(db, (v = make(db)));
    return v;
  };
}

/** as `hot`, for an UPDATE or DELETE whose caller needs to know how many rows it changed */
export function hotWrite<P extends Record<string, unknown>>(
  db: DB,
  names: (keyof P & string)[],
  build: (p: Record<keyof P & string, any>) => Compilable<unknown>,
): HotWrite<P> {
  const query = precompiled(names, build);
  return async (params, on = db) => Number((await on.executeQuery(query(params))).numAffectedRows ?? 0);
}
