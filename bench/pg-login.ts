/**
 * `BENCH_DATABASE_URL=postgres://… tsx bench/pg-login.ts`: sequential password logins (identification → password →
 * login, the default flow) against a Keystage in this process on a fresh PostgreSQL database, the way one node of a
 * cluster serves them: per login, the median and p90 time and the number of SQL statements it sent. Loopback only;
 * 20 warm-up and 100 measured logins (PG_LOGINS=n measures n). The PostgreSQL phase of `npm run bench`
 * (bench/pg-phase.ts) measures logins under load instead: real hashing, TOTP, round trips and the database's CPU.
 */
import pg from 'pg';
import { startServer, ADMIN_PASSWORD } from '../test/helpers/server.js';
import { FlowClient } from '../test/helpers/flow-client.js';

const url = process.env.BENCH_DATABASE_URL ?? process.env.KEYSTAGE_TEST_DATABASE_URL;
if (!url) throw new Error('set BENCH_DATABASE_URL to a PostgreSQL server (a database is created and dropped on it)');
process.env.KEYSTAGE_TEST_DATABASE_URL = url;

// every statement the server sends goes through pg.Client#query
let statements = 0;
const query = pg.Client.prototype.query;
pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
  statements++;
  return (query as (...a: unknown[]) => unknown).apply(this, args);
} as typeof query;

const srv = await startServer('postgres', { argon2: { memoryCost: 64, timeCost: 1, parallelism: 1, concurrency: 1 } } as never);
try {
  const times: number[] = [];
  const counts: number[] = [];
  for (let i = 0; i < 20 + Number(process.env.PG_LOGINS ?? 100); i++) {
    const c = new FlowClient(srv);
    const s0 = statements;
    const t0 = performance.now();
    await c.get();
    await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
    const done = (await c.post({ component: 'ak-stage-password', password: ADMIN_PASSWORD })).body;
    if (done.component !== 'xak-flow-redirect') throw new Error(`login failed: ${JSON.stringify(done)}`);
    if (i >= 20) {
      times.push(performance.now() - t0);
      counts.push(statements - s0);
    }
  }
  const q = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * p)]!;
  console.log(
    `PostgreSQL, sequential logins (identification → password → login, trivial argon2id): p50 ${q(times, 0.5).toFixed(1)} ms, p90 ${q(times, 0.9).toFixed(1)} ms; ${q(counts, 0.5)} statements per login (median)`,
  );
} finally {
  await srv.close();
}
