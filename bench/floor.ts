/**
 * `tsx bench/floor.ts`: what the framework alone costs per request on this machine, for comparison with a login's
 * event-loop time. A bare Fastify 5 app (with @fastify/cookie, as Keystage registers it) on core 0 answers the
 * executor's shape of traffic: a JSON POST answered by a 302, and a GET answered by a small JSON challenge. The
 * client is the load generator of bench/run.ts (undici, 32 concurrent keep-alive connections) on core 1. Prints the
 * server's event-loop CPU per request. Loopback only; bounded to 32,000 measured requests.
 */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import cookie from '@fastify/cookie';
import { Pool } from 'undici';

const PORT = Number(process.env.FLOOR_PORT ?? 19500 + Math.floor(Math.random() * 400));
const CHALLENGE = { component: 'ak-stage-dummy', flow_info: { title: 'Welcome', layout: 'stacked', cancel_url: '/flows/-/cancel/' }, pending_user: 'someone', pending_user_avatar: '' };

async function serve() {
  const app = Fastify({ logger: false });
  await app.register(cookie);
  app.get('/api/v3/flows/executor/:slug/', async (req, reply) => {
    reply.header('cache-control', 'no-store');
    return { ...CHALLENGE, seen: Object.keys(req.cookies).length };
  });
  app.post('/api/v3/flows/executor/:slug/', async (req, reply) => reply.code(302).header('location', req.url).send());
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
  const server = pinned ? spawn('taskset', ['-c', '0', process.execPath, ...args], { env, stdio: 'inherit' }) : spawn(process.execPath, args, { env, stdio: 'inherit' });
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
            const r = await pool.request({ path: '/api/v3/flows/executor/x/?query=', method: post ? 'POST' : 'GET', headers, body: post ? '{"component":"ak-stage-dummy"}' : undefined });
            await r.body.text();
          }
        }),
      );
    await run(200);
    for (let round = 0; round < 2; round++) {
      const c0 = mainThreadMs(server.pid!);
      const t0 = performance.now();
      await run(500);
      const ms = performance.now() - t0;
      const cpu = mainThreadMs(server.pid!) - c0;
      console.log(`bare Fastify: 16,000 requests in ${ms.toFixed(0)} ms (${((16000 / ms) * 1000).toFixed(0)}/s); event loop ${((cpu / 16000) * 1000).toFixed(1)} µs of CPU per request`);
    }
    await pool.close();
  } finally {
    server.kill('SIGTERM');
  }
}

if (process.argv[2] === 'serve') {
  await serve();
} else await load();
