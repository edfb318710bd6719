/**
 * The peer server of the bench's comparison (issue 18), started by bench/peer.ts: better-auth, installed on demand
 * into a cache folder (never a dependency of Keystage), served by node:http through its documented `toNodeHandler`,
 * on SQLite (Keystage's better-sqlite3, with Keystage's pragmas), with
 * - Keystage's argon2id parameters through the documented password hook (`emailAndPassword.password.hash/verify`,
 *   @node-rs/argon2 from Keystage's node_modules),
 * - the twoFactor plugin (TOTP),
 * - rate limiting and telemetry off (Keystage's bench raises its lockout limit too).
 * At its first start on an empty database it creates its tables (better-auth's own migrations) and seeds the users
 * of PEER_USERS_FILE ([{username, key}]: e-mail `<username>@example.com`, the bench's password, one hash for all as
 * Keystage's seed does, and a verified TOTP secret: the key's text, which better-auth reads as UTF-8 bytes).
 *
 * bench/peer.ts transforms this file with esbuild and runs it with plain node, so no TypeScript loader sits in the
 * measured memory; everything it loads comes by absolute path from the environment: PEER_PORT, PEER_DB,
 * PEER_PACKAGE_DIR (the folder better-auth is installed in), KEYSTAGE_ROOT, PEER_ARGON (JSON), PEER_PASSWORD,
 * PEER_USERS_FILE.
 */
import { createRequire } from 'node:module';
import { createServer } from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const port = Number(env('PEER_PORT'));
const peer = createRequire(path.join(env('PEER_PACKAGE_DIR'), 'package.json'));
const keystage = createRequire(path.join(env('KEYSTAGE_ROOT'), 'package.json'));
const load = async (req: NodeJS.Require, id: string): Promise<any> => import(pathToFileURL(req.resolve(id)).href);

const { betterAuth } = await load(peer, 'better-auth');
const { twoFactor } = await load(peer, 'better-auth/plugins');
const { toNodeHandler } = await load(peer, 'better-auth/node');
const { symmetricEncrypt } = await load(peer, 'better-auth/crypto');
const { getMigrations } = await load(peer, 'better-auth/db/migration');
const argon2 = await load(keystage, '@node-rs/argon2');
const Database = (await load(keystage, 'better-sqlite3')).default;

const params = JSON.parse(env('PEER_ARGON')) as { memoryCost: number; timeCost: number; parallelism: number };
const db = new Database(env('PEER_DB'));
// as src/db/index.ts opens Keystage's database
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('foreign_keys = ON');
db.pragma('busy_timeout = 5000');
db.pragma('mmap_size = 268435456');

const baseURL = `http://127.0.0.1:${port}`;
const auth = betterAuth({
  baseURL,
  secret: `bench-peer-secret-${'s'.repeat(32)}`,
  database: db,
  emailAndPassword: {
    enabled: true,
    password: {
      hash: (password: string) => argon2.hash(password, { ...params, algorithm: 2 }),
      verify: ({ hash, password }: { hash: string; password: string }) => argon2.verify(hash, password),
    },
  },
  plugins: [twoFactor()],
  rateLimit: { enabled: false },
  telemetry: { enabled: false },
  logger: { level: 'error' },
});

const { runMigrations } = await getMigrations(auth.options);
await runMigrations();

if ((db.prepare('select count(*) as n from user').get() as { n: number }).n === 0) {
  const ctx = await auth.$context;
  const users = JSON.parse(fs.readFileSync(env('PEER_USERS_FILE'), 'utf8')) as { username: string; key: string }[];
  const encoded = await argon2.hash(env('PEER_PASSWORD'), { ...params, algorithm: 2 });
  const backupCodes = await symmetricEncrypt({ key: ctx.secretConfig, data: '[]' });
  db.exec('begin');
  for (const u of users) {
    const user = await ctx.internalAdapter.createUser({
      email: `${u.username}@example.com`,
      name: u.username,
      emailVerified: true,
      twoFactorEnabled: true,
    });
    await ctx.internalAdapter.linkAccount({ userId: user.id, providerId: 'credential', accountId: user.id, password: encoded });
    await ctx.adapter.create({
      model: 'twoFactor',
      data: { secret: await symmetricEncrypt({ key: ctx.secretConfig, data: u.key }), backupCodes, userId: user.id, verified: true },
    });
  }
  db.exec('commit');
}

const server = createServer(toNodeHandler(auth));
// Fastify's default (Keystage's server): node's 5 s would close the load generator's idle keep-alive connections
// between phases, failing the first request sent on one as the server closes it
server.keepAliveTimeout = 72_000;
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => {
  server.close();
  db.close();
  process.exit(0);
});
