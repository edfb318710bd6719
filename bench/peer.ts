/**
 * The peer rows of `npm run bench` (issue 18): better-auth at a pinned version, installed on demand with npm into a
 * cache folder (node_modules/.cache/keystage-bench/better-auth-<version>/, kept between runs; never a dependency of
 * Keystage), served by bench/peer-better-auth.ts on core 0 like Keystage's server, seeded with the same users and
 * TOTP keys, and driven by the same load generator (bench/common.ts `drive`) through its password + TOTP login:
 * POST /api/auth/sign-in/email, then POST /api/auth/two-factor/verify-totp. Skipped, with the reason, when the
 * package cannot be installed (registry unreachable) and is not cached.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';
import { Pool } from 'undici';
import { totpAt } from '../src/mfa/totp/totp.js';
import { ARGON, PASSWORD, type BenchUser, type DriveResult, Jar, drive, pinned, rssMiB, stop, waitReady } from './common.js';

export const PEER_VERSION = process.env.BENCH_PEER_VERSION ?? '1.7.25';
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** the folder better-auth is installed in, installing it when it is not there yet; a reason when it cannot be */
export function installPeer(): { dir: string } | { skipped: string } {
  const dir = path.join(ROOT, 'node_modules', '.cache', 'keystage-bench', `better-auth-${PEER_VERSION}`);
  const marker = path.join(dir, 'node_modules', 'better-auth', 'package.json');
  if (fs.existsSync(marker)) return { dir };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'package.json'), '{ "private": true }\n');
  console.error(`installing better-auth@${PEER_VERSION} into ${dir} …`);
  try {
    execFileSync(
      'npm',
      ['install', '--prefix', dir, '--no-audit', '--no-fund', '--ignore-scripts', '--fetch-retries=1', `better-auth@${PEER_VERSION}`],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 600_000 },
    );
  } catch (e) {
    const stderr = String((e as { stderr?: Buffer }).stderr ?? e);
    const lines = stderr.split('\n').filter((l) => /^npm (ERR!|error) (code|errno|network|request)\b/.test(l));
    const reason = lines.length ? lines.slice(0, 2).join('; ') : stderr.trim().split('\n')[0];
    fs.rmSync(dir, { recursive: true, force: true });
    return { skipped: `npm install better-auth@${PEER_VERSION} failed (registry unreachable?): ${reason}` };
  }
  if (!fs.existsSync(marker)) return { skipped: `npm install better-auth@${PEER_VERSION} left no package` };
  return { dir };
}

export interface PeerPhase {
  version: string;
  rows: (DriveResult & { c: number; raw: number })[];
  rss: number;
}

/**
 * Starts the peer on core 0 with `users`, drives its login at each concurrency of `cs` (`seconds` each, every user
 * once at most, the raw argon2id rate measured just before and after as for Keystage's rows), reads its resident
 * memory after, and stops it.
 */
export async function peerPhase(opts: {
  users: BenchUser[];
  cs: number[];
  seconds: number;
  workDir: string;
  raw: () => Promise<number>;
}): Promise<PeerPhase | { skipped: string }> {
  const installed = installPeer();
  if ('skipped' in installed) return installed;
  const script = path.join(opts.workDir, 'peer-better-auth.mjs');
  buildSync({
    entryPoints: [fileURLToPath(new URL('./peer-better-auth.ts', import.meta.url))],
    outfile: script,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    logLevel: 'warning',
  });
  const usersFile = path.join(opts.workDir, 'peer-users.json');
  fs.writeFileSync(usersFile, JSON.stringify(opts.users));
  const port = 19600 + Math.floor(Math.random() * 300);
  const base = `http://127.0.0.1:${port}`;
  const server = pinned(0, process.execPath, [`--max-semi-space-size=${process.env.BENCH_SEMI ?? 4}`, script], {
    ...process.env,
    NODE_ENV: 'production',
    PEER_PORT: String(port),
    PEER_DB: path.join(opts.workDir, 'peer.sqlite3'),
    PEER_PACKAGE_DIR: installed.dir,
    KEYSTAGE_ROOT: ROOT,
    PEER_ARGON: JSON.stringify(ARGON),
    PEER_PASSWORD: PASSWORD,
    PEER_USERS_FILE: usersFile,
    // as Keystage's server runs in the bench
    UV_THREADPOOL_SIZE: '2',
    MALLOC_ARENA_MAX: '2',
  });
  try {
    await waitReady(`${base}/api/auth/ok`, server);
    const pool = new Pool(base, { connections: 64, pipelining: 1 });
    let i = 0;
    const take = () => (i < opts.users.length ? opts.users[i++] : undefined);
    const rows: PeerPhase['rows'] = [];
    for (const c of opts.cs) {
      const before = await opts.raw();
      const r = await drive(c, opts.seconds, take, (u) => peerLogin(pool, base, u));
      const after = await opts.raw();
      rows.push({ c, ...r, raw: (before + after) / 2 });
    }
    const rss = rssMiB(server.pid!);
    await pool.close();
    return { version: PEER_VERSION, rows, rss };
  } finally {
    await stop(server);
  }
}

/** better-auth's password + TOTP login: sign-in answers `twoFactorRedirect`, verify-totp sets the session cookie */
async function peerLogin(pool: Pool, origin: string, u: BenchUser): Promise<boolean> {
  const jar = new Jar();
  const post = async (p: string, body: unknown) => {
    const r = await pool.request({
      path: p,
      method: 'POST',
      headers: { 'content-type': 'application/json', origin, cookie: jar.header() },
      body: JSON.stringify(body),
    });
    jar.keep(r.headers);
    return { status: r.statusCode, body: (await r.body.json()) as any };
  };
  const first = await post('/api/auth/sign-in/email', { email: `${u.username}@example.com`, password: PASSWORD });
  if (first.status !== 200 || first.body?.twoFactorRedirect !== true)
    throw new Error(`sign-in: ${first.status} ${JSON.stringify(first.body)}`);
  // the secret is the key's text, read by better-auth as UTF-8 bytes
  const code = totpAt(Buffer.from(u.key, 'utf8').toString('hex'), Math.floor(Date.now() / 30_000), 6);
  const second = await post('/api/auth/two-factor/verify-totp', { code });
  if (second.status !== 200) throw new Error(`verify-totp: ${second.status} ${JSON.stringify(second.body)}`);
  return [...jar.cookies.keys()].some((k) => k.endsWith('session_token'));
}
