/**
 * Hot queries: built once with the query builder, compiled once, then executed with fresh parameters. Kysely's
 * builder is immutable and allocation-heavy; for the few queries every executor request runs, this removes it
 * from the request path. The builder marks each parameter with a unique placeholder value so the order of the
 * compiled parameters is known.
 */
import { CompiledQuery, type Compilable } from 'kysely';
import type { DB } from './index.js';

export type Hot<P extends Record<string, unknown>, R> = (params: P) => Promise<R[]>;

/** `build` receives placeholder values (one per named parameter) and must use each exactly where it belongs */
export function hot<P extends Record<string, unknown>, R>(db: DB, names: (keyof P & string)[], build: (p: Record<keyof P & string, any>) => Compilable<R>): Hot<P, R> {
  const marks = Object.fromEntries(names.map((n) => [n, `\u0000hot:${n}\u0000`])) as Record<keyof P & string, string>;
  const compiled = build(marks).compile();
  const order = compiled.parameters.map((p) => {
    const name = names.find((n) => marks[n] === p);
    return name === undefined ? { fixed: p } : { name };
  });
  return async (params) => {
    const values = order.map((o) => ('name' in o ? params[o.name as keyof P] : o.fixed));
    const res = await db.executeQuery<R>(CompiledQuery.raw(compiled.sql, values));
    return res.rows;
  };
}
