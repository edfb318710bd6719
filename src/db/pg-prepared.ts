/**
 * PostgreSQL: named prepared statements. Kysely's dialect sends every query unnamed, so PostgreSQL parses (and
 * plans) it anew each time; a named statement is parsed once per connection and then only bound and executed (and,
 * after a few executions, runs a cached generic plan). A PK select costs about a third less server CPU that way.
 *
 * Each distinct SQL text gets a name the second time it runs (`ks<n>`, from a map shared by the pool's
 * connections), so one-off texts — an admin list's filter combination, an IN list of some length — stay unnamed;
 * at most `max` texts are named, which bounds the statements each connection (and its backend) keeps. Only plain
 * DML is named (select, insert, update, delete, with): never DDL, transaction control or several statements in
 * one text.
 *
 * A schema change under a running node (another node's migration) can make a prepared statement unusable ("cached
 * plan must not change result type"; or gone: "prepared statement does not exist"). The connection then prepares
 * its statements again under new names, and the failed query is retried at once when it ran outside a transaction
 * (inside one, the transaction is already aborted and the error is the caller's).
 *
 * PostgreSQL's text cannot hold U+0000 ("invalid byte sequence for encoding UTF8: 0x00"), which SQLite stores and
 * compares like any character. A parameter holding one is sent with U+FFFD in its place, so a lookup by a value from
 * the wire (a client id, a slug in a path, a token) finds nothing, as on SQLite, instead of failing the request.
 * Request bodies and query strings of the API refuse U+0000 before this (rest/validate.ts, `NULL_CHARACTERS`).
 */
import type pg from 'pg';

const DML = /^\s*(select|insert|update|delete|with)\b/i;

/** SQL text → statement name, shared by a pool's connections */
export class StatementNames {
  private readonly names = new Map<string, string>();
  /** texts seen once, not named yet (bounded: forgotten wholesale when full) */
  private readonly seen = new Set<string>();

  constructor(private readonly max = 500) {}

  /** the name to run `text` under, or undefined to run it unnamed */
  nameOf(text: string): string | undefined {
    const name = this.names.get(text);
    if (name !== undefined || this.names.size >= this.max) return name;
    if (!DML.test(text) || text.includes(';')) return undefined;
    if (!this.seen.has(text)) {
      if (this.seen.size >= this.max) this.seen.clear();
      this.seen.add(text);
      return undefined;
    }
    this.seen.delete(text);
    const named = `ks${this.names.size}`;
    this.names.set(text, named);
    return named;
  }

  get size(): number {
    return this.names.size;
  }
}

/** a prepared statement the server no longer accepts (its tables changed, or it was deallocated) */
const stale = (e: unknown): boolean => {
  const err = e as { code?: string; message?: string };
  return (err.code === '0A000' && /cached plan/.test(err.message ?? '')) || err.code === '26000';
};

type QueryResult = pg.QueryResult<any>;

/** `values` with U+FFFD for each U+0000 in a string (the same array when none holds one, which is nearly always) */
export function withoutNullCharacters(values: unknown[]): unknown[] {
  let out: unknown[] | undefined;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (typeof v === 'string' && v.includes('\u0000')) {
      out ??= values.slice();
      out[i] = v.replaceAll('\u0000', '\ufffd');
    }
  }
  return out ?? values;
}

/** pg's Client whose `query(text, values)` (Kysely's only form) runs named prepared statements */
export function preparingClient(Base: typeof pg.Client, names: StatementNames): typeof pg.Client {
  class PreparingClient extends Base {
    /** bumped when the connection's prepared statements became unusable: its statements are prepared again */
    private generation = 0;

    constructor(...args: ConstructorParameters<typeof pg.Client>) {
      super(...args);
      // a connection lost while the pool has lent this client out (a query under way, or between a transaction's
      // statements): the query fails with it, and the pool drops the client when it is given back (no longer
      // queryable); the pool listens only to idle clients, and an 'error' nobody listens to would end the process
      this.on('error', () => {});
    }

    private async named(text: string, name: string, values: unknown[] | undefined): Promise<QueryResult> {
      const generation = this.generation;
      try {
        return await super.query({ name: generation ? `${name}_${generation}` : name, text, values });
      } catch (e) {
        if (!stale(e)) throw e;
        if (this.generation === generation) this.generation++;
        // pg's transaction status after the error ('I': idle, outside any transaction)
        if ((this as unknown as { _txStatus?: string })._txStatus !== 'I') throw e;
        return super.query({ name: `${name}_${this.generation}`, text, values });
      }
    }

    // the overloads stay pg's; only the (text, values) form is changed
    override query(...args: unknown[]): any {
      const [config, given, callback] = args;
      if (typeof config === 'string' && callback === undefined && (given === undefined || Array.isArray(given))) {
        const values = given && withoutNullCharacters(given);
        const name = names.nameOf(config);
        if (name !== undefined) return this.named(config, name, values);
        return super.query(config, values);
      }
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
  }
  return PreparingClient as unknown as typeof pg.Client;
}
