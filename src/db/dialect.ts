import { PostgresAdapter, sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import type { Database, Dialect } from './types.js';

/** which dialect a database (or a transaction on it) speaks */
export const dialectOf = (db: Kysely<Database> | Transaction<Database>): Dialect =>
  db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';

/**
 * a top-level key of a row's JSON `attributes` column as text, in either dialect; the key (a constant of the code,
 * letters, digits and underscores) is written into the SQL, so the statement's text is the same for every value
 */
export function attributeText(dialect: Dialect, key: string): RawBuilder<string> {
  if (!/^\w+$/.test(key)) throw new Error(`not an attribute key: ${key}`);
  return dialect === 'postgres'
    ? sql<string>`(attributes::jsonb ->> ${sql.lit(key)})`
    : sql<string>`json_extract(attributes, ${sql.lit(`$.${key}`)})`;
}

/** a write refused by a unique index or constraint, in either dialect (a value taken between a check and the write) */
export function isUniqueViolation(e: unknown): boolean {
  const code = (e as { code?: string } | undefined)?.code ?? '';
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/** a write refused by a foreign key: the row it refers to is gone (deleted between a check and the write) */
export function isForeignKeyViolation(e: unknown): boolean {
  const code = (e as { code?: string } | undefined)?.code ?? '';
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}
