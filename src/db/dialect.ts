import { PostgresAdapter, type Kysely, type Transaction } from 'kysely';
import type { Database, Dialect } from './types.js';

/** which dialect a database (or a transaction on it) speaks */
export const dialectOf = (db: Kysely<Database> | Transaction<Database>): Dialect =>
  db.getExecutor().adapter instanceof PostgresAdapter ? 'postgres' : 'sqlite';
