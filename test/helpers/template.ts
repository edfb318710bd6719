/**
 * Migrated template databases for test servers. Every test server used to run all migrations on its new database
 * (a second or more of PostgreSQL DDL per server under a loaded machine); instead the migrations run once into a
 * template, which each new database copies: `CREATE DATABASE … TEMPLATE` on PostgreSQL, a file copy on SQLite.
 * The template is named after a hash of the sources under src/ (any change there makes a new one), is built under
 * a lock (PostgreSQL advisory lock; a rename on SQLite), and is shared by the test files running in parallel.
 * `freshDatabase` still gives empty databases (the tests of migrating a new install: two nodes, crashes, outages);
 * KEYSTAGE_TEST_TEMPLATE=0 turns the templates off.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openStore } from '../../src/db/index.js';
import { migrate } from '../../src/db/migrate.js';
import { stageMigrations } from '../../src/stages/registry.js';
import { deviceClassMigrations } from '../../src/mfa/registry.js';
import { policyMigrations } from '../../src/policies/registry.js';
import { providerMigrations } from '../../src/providers/registry.js';
import { ensureSelfSignedCertificate } from '../../src/crypto/defaults.js';
import { attachSecrets, Secrets } from '../../src/instance/secrets.js';
import { generatedSecretKey } from '../../src/instance/settings.js';

export const templatesEnabled = () => process.env.KEYSTAGE_TEST_TEMPLATE !== '0';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

let key: string | undefined;
/** a hash of every file under src/ (names and contents) */
function sourceKey(): string {
  if (key) return key;
  const h = createHash('sha256');
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) h.update(path.relative(SRC, p)).update('\0').update(fs.readFileSync(p)).update('\0');
    }
  };
  walk(SRC);
  // and this file: what the template holds besides the migrations
  h.update(fs.readFileSync(fileURLToPath(import.meta.url)));
  key = h.digest('hex').slice(0, 16);
  return key;
}

/**
 * The migrations buildApp runs (a migration missing here would still run at the server's start), and the
 * self-signed certificate of the first start, encrypted under a generated secret key kept in the database, as a first
 * start without KEYSTAGE_SECRET_KEY leaves them: generating the RSA key cost each test server about a quarter
 * second of CPU. The servers copying the template share that key pair and secret key (a server configured with
 * another secret key re-encrypts the pair under it at its start, as after setting KEYSTAGE_SECRET_KEY).
 */
async function migrateInto(opts: { databaseUrl?: string; sqlitePath: string }): Promise<void> {
  const store = await openStore(opts);
  try {
    await migrate(store, { ...stageMigrations(), ...deviceClassMigrations(), ...policyMigrations(), ...providerMigrations() });
    attachSecrets(store.db, new Secrets(await generatedSecretKey(store.db)));
    await ensureSelfSignedCertificate(store.db, 2048);
  } finally {
    await store.close();
  }
}

/** templates of other source trees are removed when a new one is built, once they are this old */
const STALE_MS = 2 * 3_600_000;

/** Copies the migrated SQLite template to `target` (building the template first if there is none yet). */
export async function copySqliteTemplate(target: string): Promise<void> {
  const file = path.join(os.tmpdir(), `keystage-test-template-${sourceKey()}.sqlite3`);
  try {
    fs.copyFileSync(file, target);
    return;
  } catch (e) {
    if ((e as { code?: string }).code !== 'ENOENT') throw e;
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keystage-template-'));
  const built = path.join(dir, 'db.sqlite3');
  await migrateInto({ sqlitePath: built });
  // closed: the WAL is checkpointed into the file and removed; then moved into place whole
  fs.renameSync(built, file);
  fs.rmSync(dir, { recursive: true, force: true });
  for (const old of fs.readdirSync(os.tmpdir()).filter((n) => /^keystage-test-template-\w+\.sqlite3$/.test(n))) {
    const p = path.join(os.tmpdir(), old);
    if (p !== file && Date.now() - fs.statSync(p, { throwIfNoEntry: false })!.mtimeMs > STALE_MS) fs.rmSync(p, { force: true });
  }
  fs.copyFileSync(file, target);
}

let pgTemplate: Promise<string> | undefined;

async function buildPgTemplate(adminUrl: string): Promise<string> {
  const name = `keystage_template_${sourceKey()}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const exists = async () => (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    if (await exists()) return name;
    // one builder at a time across the test processes; the others wait, then find it
    await admin.query('SELECT pg_advisory_lock(hashtext($1))', [name]);
    try {
      if (await exists()) return name;
      const building = `keystage_tbuild_${randomBytes(6).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${building}`);
      try {
        const u = new URL(adminUrl);
        u.pathname = `/${building}`;
        await migrateInto({ databaseUrl: u.toString(), sqlitePath: '' });
        await admin.query(`ALTER DATABASE ${building} RENAME TO ${name}`);
        await admin.query(`COMMENT ON DATABASE ${name} IS 'keystage test template ${Date.now()}'`);
      } catch (e) {
        await admin.query(`DROP DATABASE IF EXISTS ${building} WITH (FORCE)`).catch(() => {});
        throw e;
      }
      // the templates of other source trees, once stale (a run still copying one makes its own again)
      const stale = await admin
        .query<{ datname: string }>(
          `SELECT d.datname FROM pg_database d
             JOIN pg_shdescription c ON c.objoid = d.oid AND c.classoid = 'pg_database'::regclass
            WHERE d.datname LIKE 'keystage\\_template\\_%' AND d.datname <> $1
              AND substring(c.description from '^keystage test template ([0-9]+)$')::bigint < $2`,
          [name, Date.now() - STALE_MS],
        )
        .catch(() => ({ rows: [] }));
      for (const { datname } of stale.rows) await admin.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => {});
      return name;
    } finally {
      await admin.query('SELECT pg_advisory_unlock(hashtext($1))', [name]);
    }
  } finally {
    await admin.end();
  }
}

/** `CREATE DATABASE name` as a copy of the migrated PostgreSQL template (built first if there is none yet) */
export async function createPgFromTemplate(admin: pg.Client, adminUrl: string, name: string): Promise<void> {
  const template = () => {
    pgTemplate ??= buildPgTemplate(adminUrl);
    pgTemplate.catch(() => {
      pgTemplate = undefined;
    });
    return pgTemplate;
  };
  for (let attempt = 1; ; attempt++) {
    try {
      await admin.query(`CREATE DATABASE ${name} TEMPLATE ${await template()}`);
      return;
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (attempt >= 20) throw e;
      // 3D000: dropped as stale by another source tree's run, so made again
      if (code === '3D000') pgTemplate = undefined;
      // 55006: the builder's connections to the template may take a moment to go after its pool has ended
      else if (code !== '55006') throw e;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
