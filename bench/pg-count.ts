/**
 * Preloaded (`node --import tsx --import bench/pg-count.ts dist/server/main.mjs`) into the server of the bench's
 * PostgreSQL phase (bench/pg-phase.ts): counts what the server sends to PostgreSQL. The bundle keeps `pg` external,
 * so this module and the server share one `pg`, and every statement goes through `pg.Client#query`, one round trip
 * each (node-postgres sends one query per round trip: Parse/Bind/Execute/Sync together). Counted:
 * - round trips: every query;
 * - statements: the queries that are not transaction control (BEGIN, COMMIT, ROLLBACK, SAVEPOINT, RELEASE);
 * - the backends: each connection's server process id (`processID`, from the connection's BackendKeyData — no
 *   extra query), so the bench can read their CPU time from /proc.
 * - statements by kind: verb and first table (`select users`, `update sessions`).
 * BENCH_PG_TRACE names a file to append each statement to (a debugging aid; the counts are the same without it).
 * Answers the message 'pg-counts' on the IPC channel with { roundTrips, statements, backends, kinds }.
 */
import fs from 'node:fs';
import pg from 'pg';

/** BENCH_PG_TRACE=file: every statement's text appended to the file, in the order sent (to read a login's statements) */
const trace = process.env.BENCH_PG_TRACE;

let roundTrips = 0;
let statements = 0;
/** commits that write: COMMITs, and writing statements sent outside a transaction (each commits on its own) */
let commits = 0;
/**
 * of those, the writes that committed without waiting for the WAL flush (src/db/async-commit.ts): whose result's
 * `async_commit` column says the setting was applied (a marker under a condition that did not hold returns null)
 */
let asyncCommits = 0;
/** the connections inside an explicit transaction */
const inTransaction = new WeakSet<object>();
const backends = new Set<number>();
const kinds = new Map<string, number>();
const control = /^\s*(begin|commit|rollback|savepoint|release|start transaction)\b/i;

const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client & { processID?: number }, ...args: unknown[]) {
  roundTrips++;
  const first = args[0];
  let marked = false;
  const text = typeof first === 'string' ? first : (first as { text?: string } | undefined)?.text;
  if (!text || !control.test(text)) statements++;
  const verb = /^\s*(\w+)/.exec(text ?? '')?.[1]?.toLowerCase();
  if (verb === 'begin' || verb === 'start') inTransaction.add(this);
  else if (verb === 'commit' || verb === 'rollback') {
    if (verb === 'commit') commits++;
    inTransaction.delete(this);
  } else if (
    !inTransaction.has(this) &&
    (verb === 'insert' || verb === 'update' || verb === 'delete' || (verb === 'with' && /\b(insert|update|delete)\b/i.test(text ?? '')))
  ) {
    commits++;
    marked = text?.includes("set_config('synchronous_commit', 'off', true)") ?? false;
  }
  if (trace) fs.appendFileSync(trace, `${this.processID ?? '?'} ${(text ?? '').replace(/\s+/g, ' ').slice(0, 240)}\n`);
  const kind = kindOf(text ?? '');
  kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
  if (this.processID) backends.add(this.processID);
  const result = (query as (...a: unknown[]) => unknown).apply(this, args);
  if (!marked || !(result instanceof Promise)) return result;
  return result.then((r: { rows?: Record<string, unknown>[] }) => {
    if (r?.rows?.some((row) => row.async_commit != null)) asyncCommits++;
    return r;
  });
} as typeof query;

/** a statement's verb and first table: `select users`, `update sessions`, `begin` */
function kindOf(text: string): string {
  const verb = /^\s*(\w+)/.exec(text)?.[1]?.toLowerCase() ?? '?';
  const table = /\b(?:from|into|update)\s+"?(\w+)"?/i.exec(text)?.[1];
  return table ? `${verb} ${table}` : verb;
}

if (process.send) {
  process.on('message', (m) => {
    if (m === 'pg-counts')
      process.send!({ roundTrips, statements, commits, asyncCommits, backends: [...backends], kinds: Object.fromEntries(kinds) });
  });
  process.channel?.unref();
}
