/**
 * Starts Keystage on a free loopback port for a test, on SQLite (a temp file) or on PostgreSQL (a fresh database
 * created next to KEYSTAGE_TEST_DATABASE_URL and dropped afterwards).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import { buildApp, type App, type BuildOptions } from '../../src/server.js';
import { copySqliteTemplate, createPgFromTemplate, templatesEnabled } from './template.js';

export type DialectName = 'sqlite' | 'postgres';

/** SQLite always; PostgreSQL too when KEYSTAGE_TEST_DATABASE_URL is set. */
export function dialects(): DialectName[] {
  return process.env.KEYSTAGE_TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite'];
}

export const ADMIN_TOKEN = 'test-admin-token-' + 'x'.repeat(40);

/**
 * argon2id parameters of test servers: 1 MiB, one pass, so a login costs about a millisecond of hashing instead of
 * 20 ms (the suite logs in thousands of times). Tests of the hashing itself (the stored parameters, the rehash,
 * timing) start their server with `{ argon2: PRODUCTION_ARGON2 }`, the defaults a deployment gets.
 */
export const TEST_ARGON2 = { memoryCost: 1024, timeCost: 1, parallelism: 1 } as const;
export const PRODUCTION_ARGON2: Config['argon2'] = loadConfig({}).argon2;
export const ADMIN_PASSWORD = 'correct horse battery staple';

export interface TestServer {
  url: string;
  api: string;
  token: string;
  app: App;
  config: Config;
  close(): Promise<void>;
}

/**
 * A fresh, empty database: a temp SQLite file or a new PostgreSQL database. Returns config overrides and a cleanup.
 * With `migrated`, the database is a copy of the migrated template instead (test/helpers/template.ts).
 */
export async function freshDatabase(
  dialect: DialectName,
  opts: { migrated?: boolean } = {},
): Promise<{ overrides: Partial<Config>; drop(): Promise<void> }> {
  if (dialect === 'sqlite') {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-test-'));
    if (opts.migrated) await copySqliteTemplate(path.join(dir, 'db.sqlite3'));
    return {
      overrides: { sqlitePath: path.join(dir, 'db.sqlite3'), databaseUrl: undefined },
      drop: async () => fs.rmSync(dir, { recursive: true, force: true }),
    };
  }
  const adminUrl = process.env.KEYSTAGE_TEST_DATABASE_URL!;
  const name = `keystage_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    if (opts.migrated) await createPgFromTemplate(admin, adminUrl, name);
    else await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const u = new URL(adminUrl);
  u.pathname = `/${name}`;
  return {
    overrides: { databaseUrl: u.toString() },
    drop: async () => {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

/**
 * A Keystage on a fresh database (dropped by `close()`), or — when `overrides` names an existing database
 * (`databaseUrl` for postgres, `sqlitePath` for sqlite) — another node on that database, which its creator drops.
 */
export async function startServer(
  dialect: DialectName = 'sqlite',
  overrides: Partial<Config> = {},
  options: BuildOptions = {},
): Promise<TestServer> {
  const existing = dialect === 'postgres' ? overrides.databaseUrl : overrides.sqlitePath;
  // a new database starts as a copy of the migrated template: the server finds every migration applied
  const db = existing ? { overrides: {}, drop: async () => {} } : await freshDatabase(dialect, { migrated: templatesEnabled() });
  const config = loadConfig(
    {},
    {
      port: 0,
      host: '127.0.0.1',
      logLevel: (process.env.KS_TEST_LOG as 'silent') ?? 'silent',
      bootstrapToken: ADMIN_TOKEN,
      bootstrapPassword: ADMIN_PASSWORD,
      bootstrapEmail: 'admin@example.com',
      // the self-signed certificate of the first start: 2048-bit RSA starts a server about a second sooner than 4096
      selfSignedKeyBits: 2048,
      argon2: { ...PRODUCTION_ARGON2, ...TEST_ARGON2 },
      ...db.overrides,
      ...overrides,
    },
  );
  // the task scheduler ticks at start and when kicked (a send, a retry, a schedule's save), not hourly: a built-in
  // schedule coming due at its minute of the hour would otherwise run in whichever servers are up then (tests that
  // run schedules by time pass their own tick)
  let app: App | undefined = await buildApp(config, { taskTickMs: 3_600_000, ...options });
  await app.app.listen({ port: 0, host: '127.0.0.1' });
  const addr = app.app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://127.0.0.1:${port}`;
  const srv: TestServer = {
    url,
    api: `${url}/api/v3`,
    token: ADMIN_TOKEN,
    app,
    config,
    async close() {
      await app?.close();
      await db.drop();
      // node:test keeps every test function and hook (and so whatever they close over, such as this object) until
      // the process ends; a test worker runs many files, so a closed server gives its application back
      app = undefined;
      (srv as { app?: App }).app = undefined;
    },
  };
  return srv;
}

/** `startServer`'s overrides for another node on `srv`'s database (as at a restart, or beside it) */
export const sameDatabase = (srv: TestServer): Partial<Config> =>
  srv.config.databaseUrl ? { databaseUrl: srv.config.databaseUrl } : { sqlitePath: srv.config.sqlitePath };

/** fetch with the admin token and JSON body; returns status and parsed body */
export async function call(
  srv: TestServer,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${srv.api}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${srv.token}`,
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, body: parsed, headers: res.headers };
}
