/** Keystage as a separate OS process (node + the bundled server or tsx), for crash and multi-node tests. */
import { fileURLToPath } from 'node:url';
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { ADMIN_PASSWORD, ADMIN_TOKEN, TEST_ARGON2 } from './server.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export interface Node {
  url: string;
  port: number;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/**
 * Starts a node and waits until it is ready. Without `port`, it gets a free one; since the port is free only when
 * asked, another test file running in parallel may take it first: a node that exits at start is then tried again
 * on another port (a few times).
 */
/** `output` receives the process's stdout and stderr (its log lines) */
export async function startNode(
  env: Record<string, string>,
  port?: number,
  opts: { output?: (chunk: string) => void } = {},
): Promise<Node> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startNodeOn(env, port ?? (await freePort()), opts);
    } catch (e) {
      if (port !== undefined || attempt >= 3 || !(e instanceof ExitedAtStart)) throw e;
    }
  }
}

class ExitedAtStart extends Error {}

/**
 * node's arguments for `npm start`'s entry point in its own process: under `npm test` (compiled into .test-js/ by
 * scripts/test-build.ts) the compiled src/main.js beside this file's tree, else src/main.ts through tsx
 */
export const serverArgs = (): string[] =>
  import.meta.url.endsWith('.js') ? [fileURLToPath(new URL('../../src/main.js', import.meta.url))] : ['--import', 'tsx', 'src/main.ts'];

async function startNodeOn(env: Record<string, string>, p: number, opts: { output?: (chunk: string) => void }): Promise<Node> {
  const child = spawn(process.execPath, serverArgs(), {
    env: {
      ...process.env,
      KEYSTAGE_PORT: String(p),
      KEYSTAGE_HOST: '127.0.0.1',
      KEYSTAGE_SECRET_KEY: 'process-test-shared-secret-' + 'p'.repeat(24),
      KEYSTAGE_BOOTSTRAP_TOKEN: ADMIN_TOKEN,
      KEYSTAGE_BOOTSTRAP_PASSWORD: ADMIN_PASSWORD,
      KEYSTAGE_LOG_LEVEL: 'warn',
      KEYSTAGE_METRICS_PORT: '0',
      // the first start's self-signed certificate: 2048-bit RSA, a second sooner than 4096 (test/helpers/server.ts)
      KEYSTAGE_SELF_SIGNED_KEY_BITS: '2048',
      // cheap argon2id, as test servers in-process (TEST_ARGON2 in test/helpers/server.ts)
      KEYSTAGE_ARGON2_MEMORY_KIB: String(TEST_ARGON2.memoryCost),
      KEYSTAGE_ARGON2_ITERATIONS: String(TEST_ARGON2.timeCost),
      ...env,
    },
    stdio: ['ignore', opts.output ? 'pipe' : 'ignore', opts.output ? 'pipe' : 'ignore'],
  });
  if (opts.output) {
    child.stdout?.on('data', (d: Buffer) => opts.output!(d.toString()));
    child.stderr?.on('data', (d: Buffer) => opts.output!(d.toString()));
  }
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const url = `http://${env.KEYSTAGE_HOST ?? '127.0.0.1'}:${p}`;
  // ready is polled every 100 ms; the deadline only bounds a node that never comes up (a start under a loaded
  // machine — three nodes importing the sources through tsx at once — took longer than the former 20 s)
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
    try {
      if ((await fetch(`${url}/-/health/ready/`)).ok) return { url, port: p, child, exited };
    } catch {
      /* starting */
    }
    if (child.exitCode !== null) throw new ExitedAtStart(`node exited at start with code ${child.exitCode}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error('node did not start');
}

export async function api(node: { url: string }, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`${node.url}/api/v3${path}`, {
    method,
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined };
}
