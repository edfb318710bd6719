/** SQL over JSON stored as text, in both dialects (JSON columns are text in SQLite and PostgreSQL alike). */
import { sql, type RawBuilder, type SqlBool } from 'kysely';

type Dialect = 'sqlite' | 'postgres';

/** a SQLite JSON path with every key quoted */
export const jsonPath = (keys: string[]) => '$' + keys.map((k) => `."${k.replace(/["\\]/g, '')}"`).join('');

/** the JSON value at `path` of text column `column` when it is a string, else null (also for text that is not JSON, in SQLite) */
export function jsonStringAt(column: string, path: string[], dialect: Dialect): RawBuilder<string | null> {
  const col = sql.ref(column);
  if (dialect === 'postgres')
    return sql<
      string | null
    >`(case when jsonb_typeof(${col}::jsonb #> ${path}::text[]) = 'string' then ${col}::jsonb #>> ${path}::text[] end)`;
  const p = jsonPath(path);
  return sql<
    string | null
  >`(case when json_valid(${col}) then (case when json_type(${col}, ${p}) = 'text' then json_extract(${col}, ${p}) end) end)`;
}

/** the JSON value at `path` of text column `column` is the integer `n` */
export function jsonIntegerIs(column: string, path: string[], n: number, dialect: Dialect): RawBuilder<SqlBool> {
  const col = sql.ref(column);
  if (dialect === 'postgres') return sql<SqlBool>`(${col}::jsonb #> ${path}::text[]) = ${String(n)}::jsonb`;
  const p = jsonPath(path);
  return sql<SqlBool>`(case when json_valid(${col}) then (case when json_type(${col}, ${p}) = 'integer' then json_extract(${col}, ${p}) = ${n} end) end)`;
}
