/**
 * PostgreSQL: a write that may commit without waiting for its WAL record to reach the disk.
 *
 * A synchronous commit waits for a flush of the WAL (measured: 220–290 µs of the backend's CPU and 1.7–2.8 ms of
 * wall time per one-row UPDATE on the development machine's disk, against 43–60 µs and 0.1–0.2 ms without the
 * wait). Some of a login's writes are worth less than that: a session's lease, an anonymous session's flow state, a
 * failure counter's reservation. If PostgreSQL crashes within the next fraction of a second (`wal_writer_delay`,
 * 200 ms by default) such a write may be lost — a request repeats a stage, a lease ends, a check is not counted — but
 * never half-applied, and it is visible to every other connection at once, as any commit: the limits and leases
 * still hold across nodes. WAL is flushed in order, so a later synchronous commit (a login's transaction, an
 * issued token, a logout, any admin write, which all stay synchronous) makes every earlier write durable with it.
 *
 * A write that must survive a crash can still skip the wait when a synchronous commit is sure to follow it before
 * anyone is told it happened: a TOTP step taken commits so, and the flow request that took it answers only after its
 * next synchronous commit (the login's transaction on Keystage's page; else the session's save, made synchronous for
 * it; StageCall.durableLater in src/flows/engine/runtime.ts). With synchronous replication the same holds: that
 * commit waits for the standby to confirm the WAL up to its own record, which follows the earlier ones. Likewise a
 * login's rename of an anonymous session row to the logged-in key: lost, the person is simply not logged in
 * (src/sessions/sessions.ts).
 *
 * It goes into the write's RETURNING list, so it takes effect only when the statement wrote a row (its own
 * transaction only: `set_config(…, true)`); `when` narrows it to rows matching a condition on the written row.
 * A statement marked so must never run inside a transaction that holds durable writes. SQLite has no such setting
 * (its commits are local and cheap): callers add it for PostgreSQL only.
 */
import { type RawBuilder, sql } from 'kysely';

const OFF = sql`set_config('synchronous_commit', 'off', true)`;

/** the column's name in the returned rows (callers that keep the row drop it) */
export const ASYNC_COMMIT = 'async_commit';

/** the RETURNING column that lets the statement's transaction commit asynchronously (see above) */
export const asyncCommit = (when?: RawBuilder<unknown>) =>
  (when ? sql<string | null>`CASE WHEN ${when} THEN ${OFF} END` : sql<string>`${OFF}`).as(ASYNC_COMMIT);
