/**
 * The PostgreSQL phase of `npm run bench` (issue 18, "the scale story"): Keystage's bundled server on core 0 on a
 * fresh database of the machine's PostgreSQL (BENCH_DATABASE_URL or KEYSTAGE_TEST_DATABASE_URL names the server; the
 * database keystage_bench_<random> is created on it and dropped after), real hashing, the users seeded with a TOTP
 * device each, full logins (identification → password → TOTP → login) from the same load generator as the SQLite
 * rows. Per login: the statements and round trips the server sent (counted in the server by bench/pg-count.ts), the
 * database server's CPU time — from pg_stat_statements when the server has it loaded (shared_preload_libraries),
 * and always from /proc/<pid>/stat of the backends serving the bench's connections (PostgreSQL on this machine) and
 * of the whole server (every process of its postmaster, those that exited included) — and Keystage's own CPU time, from which "one PostgreSQL core carries N logins/s" and "feeds M Keystage cores".
 * PostgreSQL itself is not pinned: it runs wherever the machine schedules it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { Pool } from 'undici';
import { hash } from '@node-rs/argon2';
import { newTotpKey } from '../src/mfa/totp/totp.js';
import { ARGON, PASSWORD, type BenchUser, type DriveResult, cpuSeconds, pinned, stop, waitReady } from './common.js';

export const PG_URL = process.env.BENCH_DATABASE_URL ?? process.env.KEYSTAGE_TEST_DATABASE_URL;

export interface PgRow extends DriveResult {
  c: number;
  path: string;
  raw: number;
  statements: number;
  roundTrips: number;
  /** commits that write (explicit COMMITs and autocommitted writes): each flushes the WAL */
  commits: number;
  /** of those, the writes that do not wait for the WAL flush (src/db/async-commit.ts) */
  asyncCommits: number;
  /** CPU ms per login of the backends serving Keystage's connections (/proc), NaN when unreadable */
  backendCpuMs: number;
  backends: number;
  /**
   * CPU ms per login of the whole PostgreSQL server: every process under the postmaster (backends, WAL writer,
   * checkpointer, autovacuum…) plus the CPU of those that exited meanwhile (the postmaster's reaped children), so a
   * connection closed during the row still counts. Other databases' work would count too: the machine is quiet.
   */
  serverCpuMs: number;
  /** pg_stat_statements: execution + planning ms per login, undefined when the extension is not loaded */
  statementMs?: number;
  /** pg_stat_statements: calls per login, as the database counts them */
  statementCalls?: number;
  /** Keystage's server CPU ms per login */
  keystageCpuMs: number;
  /** backends opened during the phase (their start-up cost is in backendCpuMs: should be 0 after the warm-up) */
  newBackends: number;
  /** statements per login by kind (verb and first table), most first */
  kinds: [string, number][];
}

/** this PostgreSQL server's own cost of the cheapest statements, measured the same way as the login rows */
export interface PgCalibration {
  /** whole-server CPU µs per prepared primary-key SELECT */
  selectUs: number;
  /** whole-server CPU µs per autocommitted one-row UPDATE (its commit and WAL flush included) */
  updateUs: number;
}

export interface PgPhase {
  rows: PgRow[];
  calibration?: PgCalibration;
  /** why pg_stat_statements is not used, when it is not */
  statStatements: string;
}

type Counts = {
  roundTrips: number;
  statements: number;
  commits: number;
  asyncCommits?: number;
  backends: number[];
  kinds: Record<string, number>;
};

function counts(child: ChildProcess): Promise<Counts> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('the server did not answer pg-counts')), 5000);
    child.once('message', (m) => {
      clearTimeout(t);
      resolve(m as Counts);
    });
    child.send('pg-counts');
  });
}

/**
 * CPU seconds of processes that may be someone else's (PostgreSQL's backends): NaN when any is unreadable. A
 * backend is one thread, so the scheduler's own count in nanoseconds (/proc/<pid>/schedstat's first field: time on
 * a CPU, user and system) serves, instead of /proc/<pid>/stat's 10-ms ticks, which rounded each backend's time by up
 * to a tick (since the twenty-third session); the ticks where schedstat is missing.
 */
function cpuOf(pids: number[]): Map<number, number> {
  return new Map(pids.map((p) => [p, threadCpuSeconds(p)]));
}

function threadCpuSeconds(pid: number): number {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e9;
  } catch {
    return cpuSeconds(pid);
  }
}

/**
 * CPU seconds of the whole PostgreSQL server so far: the live processes whose parent is the postmaster, plus the
 * postmaster's own and its reaped children's (cutime + cstime of /proc/<pid>/stat); NaN when unreadable.
 */
function serverCpuSeconds(postmaster: number): number {
  try {
    const f = fs.readFileSync(`/proc/${postmaster}/stat`, 'utf8').split(') ')[1]!.split(' ');
    let total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / 100;
    for (const d of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const g = fs.readFileSync(`/proc/${d}/stat`, 'utf8').split(') ')[1]!.split(' ');
        if (Number(g[1]) === postmaster) total += (Number(g[11]) + Number(g[12])) / 100;
      } catch {
        // exited meanwhile: counted by the postmaster once reaped
      }
    }
    return total;
  } catch {
    return NaN;
  }
}

export async function pgPhase(opts: {
  users: number;
  cs: number[];
  seconds: number;
  raw: () => Promise<number>;
  paths: string[];
  login: (pool: Pool, users: BenchUser[], next: { i: number }, c: number, seconds: number, path: any) => Promise<DriveResult>;
}): Promise<PgPhase | { skipped: string }> {
  if (!PG_URL) return { skipped: 'set BENCH_DATABASE_URL (or KEYSTAGE_TEST_DATABASE_URL) to a PostgreSQL server to run it' };
  const name = `keystage_bench_${randomBytes(5).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  try {
    await admin.connect();
  } catch (e) {
    return { skipped: `PostgreSQL at ${PG_URL} unreachable: ${String(e)}` };
  }
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_URL);
  url.pathname = `/${name}`;
  const port = 19800 + Math.floor(Math.random() * 150);
  const base = `http://127.0.0.1:${port}`;
  const token = `bench-token-${'p'.repeat(40)}`;
  const env = {
    ...process.env,
    KEYSTAGE_PORT: String(port),
    KEYSTAGE_HOST: '127.0.0.1',
    KEYSTAGE_DATABASE_URL: url.toString(),
    KEYSTAGE_LOG_LEVEL: 'warn',
    KEYSTAGE_BOOTSTRAP_TOKEN: token,
    KEYSTAGE_BOOTSTRAP_PASSWORD: PASSWORD,
    KEYSTAGE_METRICS_PORT: '0',
    KEYSTAGE_ARGON2_MEMORY_KIB: String(ARGON.memoryCost),
    KEYSTAGE_ARGON2_ITERATIONS: String(ARGON.timeCost),
    KEYSTAGE_LOCKOUT_IP_LIMIT: '100000000',
    UV_THREADPOOL_SIZE: '2',
    MALLOC_ARENA_MAX: '2',
  };
  const db = new pg.Client({ connectionString: url.toString() });
  let server: ChildProcess | undefined;
  try {
    // a first start applies the migrations and default flows; the users are seeded while no server runs
    const setup = spawn(process.execPath, ['dist/server/main.mjs'], { env, stdio: ['ignore', 'inherit', 'inherit'] });
    await waitReady(`${base}/-/health/ready/`, setup);
    await stop(setup);
    await db.connect();
    const users = await seed(db, opts.users);
    let statStatements = 'available';
    try {
      await db.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
      await db.query('SELECT 1 FROM pg_stat_statements LIMIT 1');
    } catch (e) {
      statStatements = `not used: ${(e as Error).message}`;
    }
    const statTotals = async () => {
      if (statStatements !== 'available') return undefined;
      const r = await db.query(
        `SELECT coalesce(sum(total_exec_time + total_plan_time), 0)::float8 AS ms, coalesce(sum(calls), 0)::float8 AS calls
           FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            AND userid = (SELECT usesysid FROM pg_user WHERE usename = current_user)`,
      );
      return r.rows[0] as { ms: number; calls: number };
    };
    server = pinned(
      0,
      process.execPath,
      [
        '--import',
        'tsx',
        '--import',
        fileURLToPath(new URL('./pg-count.ts', import.meta.url)),
        `--max-semi-space-size=${process.env.BENCH_SEMI ?? 4}`,
        'dist/server/main.mjs',
      ],
      env,
      ['ignore', 'inherit', 'inherit', 'ipc'],
    );
    await waitReady(`${base}/-/health/ready/`, server);
    const pool = new Pool(base, { connections: 64, pipelining: 1 });
    const next = { i: 0 };
    // warm-up at the highest concurrency: every connection of Keystage's pool opened and its backend's caches
    // filled before measuring (a new backend's first statements cost milliseconds each)
    await opts.login(pool, users, next, Math.max(...opts.cs), 3, opts.paths[0]);
    const dataDir = (await db.query('SHOW data_directory')).rows[0].data_directory as string;
    let postmaster = NaN;
    try {
      postmaster = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      // not this machine's server, or not readable: the whole-server column says NaN
    }
    const rows: PgRow[] = [];
    for (const c of opts.cs)
      for (const loginPath of opts.paths) {
        const before = await opts.raw();
        const c0 = await counts(server);
        const cpu0 = cpuOf(c0.backends);
        const s0 = await statTotals();
        const k0 = cpuSeconds(server.pid!);
        const pg0 = serverCpuSeconds(postmaster);
        const r = await opts.login(pool, users, next, c, opts.seconds, loginPath);
        const pg1 = serverCpuSeconds(postmaster);
        const k1 = cpuSeconds(server.pid!);
        const c1 = await counts(server);
        const s1 = await statTotals();
        const cpu1 = cpuOf(c1.backends);
        const after = await opts.raw();
        const n = Math.max(1, r.n + r.failed);
        // backends that served before and after; one opened meanwhile counts from its start
        let backendCpu = 0;
        for (const [p, t1] of cpu1) if (Number.isFinite(t1)) backendCpu += t1 - (cpu0.get(p) || 0);
        rows.push({
          c,
          path: loginPath,
          serverCpuMs: ((pg1 - pg0) * 1000) / n,
          ...r,
          raw: (before + after) / 2,
          statements: (c1.statements - c0.statements) / n,
          roundTrips: (c1.roundTrips - c0.roundTrips) / n,
          commits: (c1.commits - c0.commits) / n,
          asyncCommits: ((c1.asyncCommits ?? 0) - (c0.asyncCommits ?? 0)) / n,
          backendCpuMs: (backendCpu * 1000) / n,
          backends: cpu1.size,
          statementMs: s0 && s1 ? (s1.ms - s0.ms) / n : undefined,
          // less the first statistics query, recorded between the two readings
          statementCalls: s0 && s1 ? (s1.calls - s0.calls - 1) / n : undefined,
          keystageCpuMs: ((k1 - k0) * 1000) / n,
          newBackends: [...cpu1.keys()].filter((p) => !cpu0.has(p)).length,
          kinds: Object.entries(c1.kinds)
            .map(([k, v]) => [k, (v - (c0.kinds[k] ?? 0)) / n] as [string, number])
            .filter(([, v]) => v > 0)
            .sort((a, b) => b[1] - a[1]),
        });
      }
    await pool.close();
    await stop(server);
    server = undefined;
    const calibration = Number.isFinite(postmaster) ? await calibrate(url.toString(), postmaster, users.length) : undefined;
    return { rows, statStatements, calibration };
  } finally {
    if (server) await stop(server);
    await db.end().catch(() => {});
    if (!process.env.BENCH_KEEP) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    else console.error('kept database', name);
    await admin.end();
  }
}

/** users with the bench's password (one hash) and a TOTP device each, as bench/run.ts seeds SQLite */
async function seed(db: pg.Client, n: number): Promise<BenchUser[]> {
  const encoded = await hash(PASSWORD, { ...ARGON, algorithm: 2 });
  const now = new Date().toISOString();
  const users: BenchUser[] = [];
  await db.query('BEGIN');
  for (let i = 0; i < n; i++) {
    const username = `bench-user-${i}`;
    const key = newTotpKey();
    const r = await db.query(
      `insert into users (uuid, username, name, email, password, is_active, last_login, date_joined, path, type, attributes, password_change_date, last_updated)
       values ($1, $2, $2, $3, $4, 1, null, $5, 'users', 'internal', '{}', $5, $5) returning id`,
      [randomUUID(), username, `${username}@example.com`, encoded, now],
    );
    await db.query(
      `insert into totp_devices (user_id, name, confirmed, created, last_updated, last_used, key, digits, step, t0, drift, last_t, throttling_failure_timestamp, throttling_failure_count)
       values ($1, 'phone', 1, $2, $2, null, $3, 6, 30, 0, 0, -1, null, 0)`,
      [r.rows[0].id, now, key],
    );
    users.push({ username, key });
  }
  await db.query('COMMIT');
  return users;
}

/**
 * The floor under the login rows: 8 connections of this process (core 1) send, for 3 s each, the cheapest
 * statements a login needs — a prepared SELECT of one user by primary key, then an autocommitted UPDATE of one user
 * row — and the whole PostgreSQL server's CPU is divided by the statements sent. A login's database CPU can be no
 * lower than its statements and commits at these prices.
 */
async function calibrate(url: string, postmaster: number, users: number): Promise<PgCalibration> {
  const clients = await Promise.all(
    Array.from({ length: 8 }, async () => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      return c;
    }),
  );
  const ids = (await clients[0]!.query('SELECT id FROM users ORDER BY id LIMIT $1', [users])).rows.map((r) => r.id as number);
  const run = async (name: string, text: string) => {
    // warm: each connection prepares the statement once
    await Promise.all(clients.map((c) => c.query({ name, text, values: [ids[0]] })));
    let n = 0;
    const cpu0 = serverCpuSeconds(postmaster);
    const deadline = Date.now() + 3000;
    await Promise.all(
      clients.map(async (c, w) => {
        for (let i = w; Date.now() < deadline; i += clients.length, n++) await c.query({ name, text, values: [ids[i % ids.length]] });
      }),
    );
    return ((serverCpuSeconds(postmaster) - cpu0) * 1e6) / Math.max(1, n);
  };
  try {
    const selectUs = await run('bench_select', 'SELECT id, username FROM users WHERE id = $1');
    const updateUs = await run('bench_update', 'UPDATE users SET last_updated = now()::text WHERE id = $1');
    return { selectUs, updateUs };
  } finally {
    await Promise.all(clients.map((c) => c.end()));
  }
}
