/**
 * `tsx bench/floor.ts`: what the framework alone costs per request on this machine, for comparison with a login's
 * event-loop time. A bare Fastify 5 app (with @fastify/cookie, as Keystage registers it) on core 0 answers the
 * executor's shape of traffic: a JSON POST answered by a 302, and a GET answered by a small JSON challenge. The
 * client is the load generator of bench/run.ts (undici, 32 concurrent keep-alive connections) on core 1. Prints the
 * server's event-loop CPU per request. Loopback only; bounded to 32,000 measured requests.
 *
 * `FLOOR_LOGIN=1 tsx bench/floor.ts`: the same bare app serving a login's shape instead — seven requests per login
 * (GET, then POST → 302 → GET three times), one of the POSTs verifying an argon2id hash with Keystage's parameters
 * (19 MiB, t=2, p=1) — at 8 and 32 concurrent logins for 8 s each, next to the raw verify rate on core 0 measured
 * just before and after. What share of the raw rate a server that does nothing else per request reaches.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import cookie from '@fastify/cookie';
import { Pool } from 'undici';
import { hash, verify } from '@node-rs/argon2';

const PORT = Number(process.env.FLOOR_PORT ?? 19500 + Math.floor(Math.random() * 400));
const ARGON = { memoryCost: 19456, timeCost: 2, parallelism: 1, algorithm: 2 as const };
const CHALLENGE = {
  component: 'ak-stage-dummy',
  flow_info: { title: 'Welcome', layout: 'stacked', cancel_url: '/flows/-/cancel/' },
  pending_user: 'someone',
  pending_user_avatar: '',
};

async function serve() {
  const app = Fastify({ logger: false });
  await app.register(cookie);
  app.get('/api/v3/flows/executor/:slug/', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    return { ...CHALLENGE, seen: Object.keys(req.cookies).length };
  });
  const encoded = await hash('floor-password', ARGON);
  let gate: Promise<unknown> = Promise.resolve();
  app.post('/api/v3/flows/executor/:slug/', async (req, reply) => {
    // one verification at a time, as Keystage gates them on one core
    if ((req.body as { password?: string } | undefined)?.password && !(await (gate = gate.then(() => verify(encoded, 'floor-password')))))
      throw new Error('verify failed');
    return reply.code(302).header('location', req.url).send();
  });
  await app.listen({ port: PORT, host: '127.0.0.1' });
}

/** CPU milliseconds the process's main thread (its event loop) has used */
function mainThreadMs(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

async function load() {
  const self = fileURLToPath(import.meta.url);
  let pinned = true;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
  } catch {
    pinned = false;
  }
  const env = { ...process.env, FLOOR_PORT: String(PORT) };
  const args = ['--import', 'tsx', self, 'serve'];
  const server = pinned
    ? spawn('taskset', ['-c', '0', process.execPath, ...args], { env, stdio: 'inherit' })
    : spawn(process.execPath, args, { env, stdio: 'inherit' });
  try {
    const pool = new Pool(`http://127.0.0.1:${PORT}`, { connections: 64 });
    for (let i = 0; ; i++) {
      try {
        await (await pool.request({ path: '/api/v3/flows/executor/x/', method: 'GET' })).body.text();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const headers = { cookie: `authentik_session=${'a'.repeat(43)}; authentik_csrf=${'b'.repeat(43)}`, 'content-type': 'application/json' };
    const run = (perWorker: number) =>
      Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let i = 0; i < perWorker; i++) {
            const post = i % 2 === 0;
            const r = await pool.request({
              path: '/api/v3/flows/executor/x/?query=',
              method: post ? 'POST' : 'GET',
              headers,
              body: post ? '{"component":"ak-stage-dummy"}' : undefined,
            });
            await r.body.text();
          }
        }),
      );
    if (process.env.FLOOR_LOGIN) {
      await logins(pool, headers, server.pid!);
      await pool.close();
      return;
    }
    await run(200);
    for (let round = 0; round < 2; round++) {
      const c0 = mainThreadMs(server.pid!);
      const t0 = performance.now();
      await run(500);
      const ms = performance.now() - t0;
      const cpu = mainThreadMs(server.pid!) - c0;
      console.log(
        `bare Fastify: 16,000 requests in ${ms.toFixed(0)} ms (${((16000 / ms) * 1000).toFixed(0)}/s); event loop ${((cpu / 16000) * 1000).toFixed(1)} µs of CPU per request`,
      );
    }
    await pool.close();
  } finally {
    server.kill('SIGTERM');
  }
}

/** argon2id verifications per second on core 0 alone, one at a time */
function rawRate(): number {
  const script = `const { hash, verify } = require('@node-rs/argon2');
    (async () => { const h = await hash('x', ${JSON.stringify(ARGON)}); let n = 0; const t0 = Date.now();
      while (Date.now() - t0 < 3000) { await verify(h, 'x'); n++; } console.log(n / ((Date.now() - t0) / 1000)); })();`;
  return Number(String(execFileSync('taskset', ['-c', '0', process.execPath, '-e', script])).trim());
}

async function logins(pool: Pool, headers: Record<string, string>, pid: number) {
  const req = async (method: 'GET' | 'POST', body?: string) => {
    const r = await pool.request({ path: '/api/v3/flows/executor/x/?query=', method, headers, body });
    await r.body.text();
  };
  const login = async () => {
    await req('GET');
    await req('POST', '{"component":"ak-stage-identification","uid_field":"someone"}');
    await req('GET');
    await req('POST', '{"component":"ak-stage-password","password":"floor-password"}');
    await req('GET');
    await req('POST', '{"component":"ak-stage-authenticator-validate","code":"123456"}');
    await req('GET');
  };
  for (const c of [8, 32]) {
    const before = rawRate();
    const c0 = mainThreadMs(pid);
    let n = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (performance.now() - t0 < 8000) {
          await login();
          n++;
        }
      }),
    );
    const s = (performance.now() - t0) / 1000;
    const cpu = mainThreadMs(pid) - c0;
    const after = rawRate();
    const raw = (before + after) / 2;
    console.log(
      `bare Fastify, login shape, c=${c}: ${(n / s).toFixed(1)}/s = ${((n / s / raw) * 100).toFixed(0)}% of raw ${raw.toFixed(1)}/s (${before.toFixed(0)} before, ${after.toFixed(0)} after); event loop ${(cpu / n).toFixed(2)} ms of CPU per login`,
    );
  }
}

if (process.argv[2] === 'serve') {
  await serve();
} else await load();
