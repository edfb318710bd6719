/**
 * What the bench's phases share (bench/run.ts and the phases in files of their own): the seeded password and
 * argon2id parameters, pinning a process to a core, /proc readings, a cookie jar, the flow executor's client and
 * the load generator (`drive`: n workers until a deadline or the work runs out).
 */
import { spawn, execFileSync, type ChildProcess, type StdioOptions } from 'node:child_process';
import fs from 'node:fs';
import type { Pool } from 'undici';

export const PASSWORD = 'bench-password-1';
/** Keystage's default argon2id parameters; BENCH_ARGON=KiB,t sets others for users, servers and the raw rate alike */
export const ARGON = (([m, t]) => ({ memoryCost: m ?? 19456, timeCost: t ?? 2, parallelism: 1 }))(
  (process.env.BENCH_ARGON ?? (process.env.BENCH_CHEAP ? '64,1' : '')).split(',').filter(Boolean).map(Number),
);
export const LOGIN_SECONDS = Number(process.env.BENCH_LOGIN_SECONDS ?? 8);

/** a seeded user: username, and the hex key of a TOTP device (empty when the user has none) */
export interface BenchUser {
  username: string;
  key: string;
  /** the TOTP time step of this user's last login in the bench (a code is accepted once per step) */
  lastStep?: number;
}

/**
 * The next user for a TOTP login: the seeded users in turn, wrapping around, skipping one who already logged in
 * during the current 30-second step (their code would be a replay); undefined when every user has.
 */
export function nextTotpUser(users: BenchUser[], next: { i: number }, step = Math.floor(Date.now() / 30_000)): BenchUser | undefined {
  for (let tries = 0; tries < users.length; tries++) {
    const u = users[next.i++ % users.length]!;
    if (u.lastStep === undefined || u.lastStep < step) {
      // (until the login sets the step its code was made for)
      u.lastStep = step;
      return u;
    }
  }
  return undefined;
}

export const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))] ?? NaN;
};

let tasksetKnown: boolean | undefined;
export function hasTaskset() {
  if (tasksetKnown === undefined)
    try {
      execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
      tasksetKnown = true;
    } catch {
      tasksetKnown = false;
    }
  return tasksetKnown;
}

/** `cmd` on one core (taskset execs into it, so the child's pid is the command's) */
export const pinned = (
  core: number,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  stdio: StdioOptions = ['ignore', 'inherit', 'inherit'],
): ChildProcess => (hasTaskset() ? spawn('taskset', ['-c', String(core), cmd, ...args], { env, stdio }) : spawn(cmd, args, { env, stdio }));

/** polls `url` until it answers 2xx (30 s at most) */
export async function waitReady(url: string, child?: ChildProcess) {
  for (let i = 0; i < 150; i++) {
    if (child && child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* starting */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer`);
}

/** ends a child process and waits for it (2 s at most) */
export async function stop(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
}

/**
 * argon2id verifications per second on core 0 alone, with the bench's parameters, `workers` at a time (one at a
 * time is faster on one core: two 19 MiB hashes evict each other's cache lines)
 */
export async function rawArgonRate(workers: number, ms = 4000): Promise<number> {
  const script = `
    const { hash, verify } = require('@node-rs/argon2');
    (async () => {
      const p = ${JSON.stringify(ARGON)};
      const h = await hash('${PASSWORD}', { ...p, algorithm: 2 });
      for (let i = 0; i < 5; i++) await verify(h, '${PASSWORD}');
      let n = 0; const t0 = Date.now();
      const worker = async () => { while (Date.now() - t0 < ${ms}) { await verify(h, '${PASSWORD}'); n++; } };
      await Promise.all(Array.from({ length: ${workers} }, worker));
      console.log(n / ((Date.now() - t0) / 1000));
    })();`;
  const env = { ...process.env, UV_THREADPOOL_SIZE: '2' };
  const out = hasTaskset()
    ? execFileSync('taskset', ['-c', '0', process.execPath, '-e', script], { cwd: process.cwd(), env })
    : execFileSync(process.execPath, ['-e', script], { cwd: process.cwd(), env });
  return Number(String(out).trim());
}

function statFields(file: string): string[] {
  return fs.readFileSync(file, 'utf8').split(') ')[1]!.split(' ');
}

/** CPU seconds (user + system, every thread) the process has used */
export function cpuSeconds(pid: number): number {
  try {
    const f = statFields(`/proc/${pid}/stat`);
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}

/**
 * what the resident memory is made of (MiB): anonymous (the heaps), file-backed (code, and the pages of the SQLite
 * file read through its memory map — the kernel's page cache, shared and dropped under pressure) and shared memory
 */
export function rssParts(pid: number): { anon: number; file: number; shmem: number } {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const kib = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1] ?? 0) / 1024;
    return { anon: kib('RssAnon'), file: kib('RssFile'), shmem: kib('RssShmem') };
  } catch {
    return { anon: NaN, file: NaN, shmem: NaN };
  }
}

export const rssPartsText = (pid: number) => {
  const p = rssParts(pid);
  return `anonymous ${p.anon.toFixed(0)}, file-backed ${p.file.toFixed(0)}, shared ${p.shmem.toFixed(0)}`;
};

export function rssMiB(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return NaN;
  }
}

type Headers = Record<string, string | string[] | undefined>;

/** cookies as a browser keeps them for one site (name → value; attributes ignored) */
export class Jar {
  cookies = new Map<string, string>();
  keep(h: Headers) {
    const sc = h['set-cookie'];
    for (const line of Array.isArray(sc) ? sc : sc ? [sc] : []) {
      const [pair] = line.split(';');
      const i = pair!.indexOf('=');
      this.cookies.set(pair!.slice(0, i), pair!.slice(i + 1));
    }
  }
  header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

/** a browser on the flow executor: cookies, the CSRF header, 302s to the executor's GET followed */
export class Browser {
  jar = new Jar();
  constructor(
    private pool: Pool,
    private slug: string,
    /** the flow's query (`next=…` when a login continues an authorization) */
    private query = '',
  ) {}
  headers(json: boolean) {
    const h: Record<string, string> = { cookie: this.jar.header() };
    if (json) h['content-type'] = 'application/json';
    const csrf = this.jar.cookies.get('authentik_csrf');
    if (csrf) h['x-authentik-csrf'] = csrf;
    return h;
  }
  async step(body?: unknown): Promise<any> {
    const url = `/api/v3/flows/executor/${this.slug}/?query=${encodeURIComponent(this.query)}`;
    let r = await this.pool.request({
      path: url,
      method: body ? 'POST' : 'GET',
      headers: this.headers(!!body),
      body: body ? JSON.stringify(body) : undefined,
    });
    this.jar.keep(r.headers);
    while (r.statusCode === 302) {
      await r.body.text();
      r = await this.pool.request({ path: String(r.headers.location), method: 'GET', headers: this.headers(false) });
      this.jar.keep(r.headers);
    }
    return r.body.json();
  }
  /** the same browser (its cookies) on another flow */
  on(slug: string, query = '') {
    const b = new Browser(this.pool, slug, query);
    b.jar = this.jar;
    return b;
  }
}

/**
 * Keystage's own login page (issue 18's page path): GET /if/flow/<slug>/ brings the first challenge inside the HTML
 * (`<script type="application/json" id="ks-first-challenge">`), and each POST sends `X-Keystage-Inline: 1`, so the
 * executor answers with the next challenge instead of a 302 to a GET — the requests web/flow/executor.ts sends.
 */
export class PageBrowser extends Browser {
  constructor(
    private pagePool: Pool,
    private pageSlug: string,
    /** the page's query (`next=…` when a login continues an authorization), which its executor requests carry */
    private pageQuery = '',
  ) {
    super(pagePool, pageSlug, pageQuery);
  }
  /** the page, and its embedded first challenge */
  async open(): Promise<any> {
    const search = this.pageQuery ? `?${this.pageQuery}` : '';
    const r = await this.pagePool.request({ path: `/if/flow/${this.pageSlug}/${search}`, method: 'GET', headers: this.headers(false) });
    this.jar.keep(r.headers);
    const html = await r.body.text();
    const m = /<script type="application\/json" id="ks-first-challenge">([^<]*)<\/script>/.exec(html);
    if (!m) throw new Error(`no first challenge in the page (HTTP ${r.statusCode})`);
    return JSON.parse(m[1]!);
  }
  override headers(json: boolean) {
    return { ...super.headers(json), 'x-keystage-inline': '1' };
  }
}

export interface DriveResult {
  /** successful units per second */
  rate: number;
  p50: number;
  p99: number;
  /** successful units */
  n: number;
  failed: number;
  /** the first failure's message */
  error?: string;
}

/**
 * The load generator: `concurrency` workers each run `once(take())` until `seconds` have passed or `take` returns
 * undefined; `once` says whether the unit succeeded (a throw counts as a failure). Latencies of the successful units
 * are pushed to `lat`.
 */
export async function drive<T>(
  concurrency: number,
  seconds: number,
  take: () => T | undefined,
  once: (t: T) => Promise<boolean>,
  lat: number[] = [],
): Promise<DriveResult> {
  const deadline = Date.now() + seconds * 1000;
  let failed = 0;
  let error: string | undefined;
  const worker = async () => {
    while (Date.now() < deadline) {
      const item = take();
      if (item === undefined) return;
      const t0 = performance.now();
      let ok = false;
      try {
        ok = await once(item);
      } catch (e) {
        error ??= String(e);
      }
      if (ok) lat.push(performance.now() - t0);
      else failed++;
    }
  };
  const t0 = performance.now();
  // BENCH_TIMELINE=1: completions per second on stderr (to see a row warm up)
  const perSecond: number[] = [];
  const timeline = process.env.BENCH_TIMELINE
    ? setInterval(() => perSecond.push(lat.length - perSecond.reduce((a, b) => a + b, 0)), 1000)
    : undefined;
  await Promise.all(Array.from({ length: concurrency }, worker));
  if (timeline) {
    clearInterval(timeline);
    console.error(`timeline (completions per second): ${perSecond.join(' ')}`);
  }
  const secs = (performance.now() - t0) / 1000;
  return { rate: lat.length / secs, p50: pct(lat, 0.5), p99: pct(lat, 0.99), n: lat.length, failed, error };
}

/** a table as the bench prints it: columns padded, ` | ` between them */
export function formatTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join(' | ')).join('\n');
}
