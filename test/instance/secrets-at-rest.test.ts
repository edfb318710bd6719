/**
 * Secrets at rest (src/core/secrets.ts): TOTP keys, API token and app-password keys and the stage providers'
 * credentials are stored encrypted under a key derived from KEYSTAGE_SECRET_KEY. Read straight from the database
 * (every column of every table; for SQLite also the raw bytes of the file and its WAL) none of them appears in
 * clear, while TOTP logins, token auth, app passwords, view_key, captcha, Duo and SMS keep working. Rows in clear
 * (as an older version wrote them) are encrypted at the next start; a previous secret key re-encrypts at start.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import pg from 'pg';
import { encodeBase32NoPadding } from '@oslojs/encoding';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { call, dialects, freshDatabase, startServer, type DialectName, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { FakeCaptcha } from '../helpers/fake-captcha.js';
import { FakeDuo } from '../helpers/fake-duo.js';
import { SmsGateway } from '../helpers/fake-providers.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';
import { Secrets, SecretUnreadable } from '../../src/instance/secrets.js';
import type { Config } from '../../src/config.js';

const SECRET = 'at-rest-secret-' + 'r'.repeat(40);
const OTHER_SECRET = 'at-rest-rotated-' + 'q'.repeat(40);
const FLOW = 'default-authentication-flow';

const K = {
  apiKey: 'api-key-in-clear-' + 'A1b2C3d4'.repeat(5),
  appPassword: 'app-password-in-clear-' + 'Z9y8X7w6'.repeat(4),
  captcha: 'captcha-private-in-clear-0f1e2d3c4b5a',
  duoSecret: 'duo-client-secret-in-clear-77aa88bb99cc',
  duoAdmin: 'duo-admin-secret-in-clear-123abc456def',
  smsAuth: 'sms-user-in-clear-5e6f7a8b',
  smsPassword: 'sms-password-in-clear-9c0d1e2f',
  smtpPassword: 'smtp-password-in-clear-3a4b5c6d',
  ldapBind: 'ldap-bind-password-in-clear-6f7e8d9c',
};
const DUO_IKEY = 'DIATRESTXXXXXXXXXXXX';

interface Known {
  totpHex: string;
  generatedKey: string;
  duoDevice: number;
  stages: { captcha: string; duo: string; sms: string; email: string };
  slugs: { captcha: string; duo: string; sms: string };
}

/** every value the database holds, as text: each row of each table (and, for SQLite, the file's raw bytes) */
async function dump(srv: TestServer, dialect: DialectName): Promise<string[]> {
  if (dialect === 'sqlite') {
    const file = srv.config.sqlitePath;
    const db = new Database(file, { readonly: true, fileMustExist: true });
    const out: string[] = [];
    try {
      const tables = db.prepare(`select name from sqlite_master where type = 'table'`).pluck().all() as string[];
      for (const t of tables)
        for (const row of db.prepare(`select * from "${t}"`).all() as Record<string, unknown>[]) out.push(`${t}: ${JSON.stringify(row)}`);
    } finally {
      db.close();
    }
    for (const f of [file, `${file}-wal`]) if (fs.existsSync(f)) out.push(fs.readFileSync(f).toString('latin1'));
    return out;
  }
  const c = new pg.Client({ connectionString: srv.config.databaseUrl });
  await c.connect();
  try {
    const tables = (
      await c.query(`select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'`)
    ).rows.map((r) => r.table_name as string);
    const out: string[] = [];
    for (const t of tables)
      for (const r of (await c.query(`select t::text as row from "${t}" t`)).rows) out.push(`${t}: ${r.row as string}`);
    return out;
  } finally {
    await c.end();
  }
}

function assertNothingInClear(rows: string[], known: Known) {
  const secrets: Record<string, string> = {
    ...K,
    totpHex: known.totpHex,
    totpHexUpper: known.totpHex.toUpperCase(),
    totpBase32: encodeBase32NoPadding(Buffer.from(known.totpHex, 'hex')),
    generatedKey: known.generatedKey,
  };
  for (const [name, value] of Object.entries(secrets)) {
    const hit = rows.find((r) => r.includes(value));
    assert.equal(hit, undefined, `${name} is stored in clear: ${hit?.slice(0, 200)}`);
  }
}

const totpCode = (hex: string) => totpAt(hex, currentStep({ t0: 0, step: 30 }), 6);

async function login(srv: TestServer, slug: string, username: string, password: string) {
  const b = new BrowserSession(srv);
  await b.get(slug);
  await b.solve(slug, { component: 'ak-stage-identification', uid_field: username });
  return { b, ch: await b.solve(slug, { component: 'ak-stage-password', password }) };
}

/** creates every kind of secret through the API */
async function populate(srv: TestServer, providers: { captcha: FakeCaptcha; duo: FakeDuo; sms: SmsGateway }): Promise<Known> {
  const s = await defaultStages(srv);
  for (const u of ['tina', 'apu', 'dora']) await createUser(srv, u, `${u}-password-1`);
  const users = Object.fromEntries(
    (await call(srv, 'GET', '/core/users/?page_size=100')).body.results.map((u: { username: string; pk: number }) => [u.username, u.pk]),
  );

  // TOTP: enrolled by the admin for tina, the key shown once in the otpauth URL
  const totp = await call(srv, 'POST', '/authenticators/admin/totp/', { name: 'tina phone', user_pk: users.tina });
  assert.equal(totp.status, 201, JSON.stringify(totp.body));
  const totpHex = Buffer.from(decodeBase32IgnorePadding(new URL(totp.body.config_url).searchParams.get('secret')!)).toString('hex');

  // API tokens: one with a chosen key, one generated; an app password for apu
  assert.equal(
    (await call(srv, 'POST', '/core/tokens/', { identifier: 'tina-api', intent: 'api', user: users.tina, expiring: false })).status,
    201,
  );
  assert.equal((await call(srv, 'POST', '/core/tokens/tina-api/set_key/', { key: K.apiKey })).status, 204);
  assert.equal(
    (await call(srv, 'POST', '/core/tokens/', { identifier: 'generated-api', intent: 'api', user: users.tina, expiring: false })).status,
    201,
  );
  const generatedKey = (await call(srv, 'GET', '/core/tokens/generated-api/view_key/')).body.key as string;
  assert.match(generatedKey, /^[A-Za-z0-9]{60}$/);
  assert.equal(
    (await call(srv, 'POST', '/core/tokens/', { identifier: 'apu-app', intent: 'app_password', user: users.apu, expiring: false })).status,
    201,
  );
  assert.equal((await call(srv, 'POST', '/core/tokens/apu-app/set_key/', { key: K.appPassword })).status, 204);

  // stage providers' credentials
  const captcha = await createStage(srv, '/stages/captcha/', {
    name: 'rest-captcha',
    public_key: 'site-key',
    private_key: K.captcha,
    api_url: providers.captcha.siteverify(),
    js_url: providers.captcha.script('turnstile'),
  });
  const dummy = await createStage(srv, '/stages/dummy/', { name: 'rest-after-captcha' });
  const duo = await createStage(srv, '/stages/authenticator/duo/', {
    name: 'rest-duo',
    client_id: DUO_IKEY,
    client_secret: K.duoSecret,
    api_hostname: providers.duo.url,
    admin_integration_key: 'DIADMIN',
    admin_secret_key: K.duoAdmin,
  });
  const sms = await createStage(srv, '/stages/authenticator/sms/', {
    name: 'rest-sms',
    provider: 'generic',
    from_number: 'Keystage',
    account_sid: `${providers.sms.url}/hook`,
    auth: K.smsAuth,
    auth_password: K.smsPassword,
    auth_type: 'basic',
  });
  const email = await createStage(srv, '/stages/authenticator/email/', {
    name: 'rest-email',
    host: '127.0.0.1',
    port: 25,
    username: 'mailer',
    password: K.smtpPassword,
  });
  for (const [path, id, fields] of [
    ['captcha', captcha, ['private_key']],
    ['authenticator/duo', duo, ['client_secret', 'admin_secret_key']],
    ['authenticator/sms', sms, ['auth', 'auth_password']],
    ['authenticator/email', email, ['password']],
  ] as const) {
    const r = await call(srv, 'GET', `/stages/${path}/${id}/`);
    for (const f of fields) assert.equal(f in r.body, false, `${path}.${f} stays write-only`);
  }
  const duoValidate = await createStage(srv, '/stages/authenticator/validate/', {
    name: 'rest-duo-validate',
    not_configured_action: 'configure',
    configuration_stages: [duo],
  });
  const smsValidate = await createStage(srv, '/stages/authenticator/validate/', {
    name: 'rest-sms-validate',
    not_configured_action: 'configure',
    configuration_stages: [sms],
  });
  const slugs = {
    captcha: await flowOf(srv, 'rest-captcha-flow', [s.identification, captcha, dummy, s.login]),
    duo: await flowOf(srv, 'rest-duo-flow', [s.identification, s.password, duoValidate, s.login]),
    sms: await flowOf(srv, 'rest-sms-flow', [s.identification, s.password, smsValidate, s.login]),
  };
  assert.equal(
    (await call(srv, 'POST', `/stages/authenticator/duo/${duo}/import_device_manual/`, { duo_user_id: 'DUDORA', username: 'dora' })).status,
    204,
  );
  const duoDevice = (
    await srv.app.store.db.selectFrom('duo_devices').select('id').where('user_id', '=', users.dora).executeTakeFirstOrThrow()
  ).id;
  // an LDAP source's bind password (disabled: no directory to sync from here)
  const ldap = await call(srv, 'POST', '/sources/ldap/', {
    name: 'Directory',
    slug: 'directory',
    enabled: false,
    server_uri: 'ldap://127.0.0.1:9',
    bind_cn: 'cn=keystage,dc=example,dc=org',
    bind_password: K.ldapBind,
    base_dn: 'dc=example,dc=org',
  });
  assert.equal(ldap.status, 201, JSON.stringify(ldap.body));
  return { totpHex, generatedKey, duoDevice, stages: { captcha, duo, sms, email }, slugs };
}

/** the key ids of every sealed value in every table's rows */
async function sealedKeyIds(srv: TestServer, dialect: DialectName): Promise<Set<string>> {
  const rows = (await dump(srv, dialect)).filter((r) => /^\w+: /.test(r));
  return new Set(rows.flatMap((r) => [...r.matchAll(/enc:v1:([A-Za-z0-9_-]+):/g)].map((m) => m[1]!)));
}

let smsUsers = 0;

/** every secret is still usable: decrypted where it is needed */
async function assertWorks(srv: TestServer, known: Known, providers: { captcha: FakeCaptcha; duo: FakeDuo; sms: SmsGateway }) {
  // API token auth (looked up by its HMAC) and view_key (decrypted)
  const me = await call({ ...srv, token: K.apiKey }, 'GET', '/core/users/me/');
  assert.equal(me.status, 200, JSON.stringify(me.body));
  assert.equal(me.body.user.username, 'tina');
  assert.equal((await call({ ...srv, token: known.generatedKey }, 'GET', '/core/users/me/')).status, 200);
  assert.equal((await call({ ...srv, token: 'not-' + K.apiKey }, 'GET', '/core/users/me/')).status, 403);
  assert.deepEqual((await call(srv, 'GET', '/core/tokens/tina-api/view_key/')).body, { key: K.apiKey });
  assert.deepEqual((await call(srv, 'GET', '/core/tokens/generated-api/view_key/')).body, { key: known.generatedKey });

  // TOTP login (a code is accepted once per time step: forget the last accepted step between rounds)
  await srv.app.store.db.updateTable('totp_devices').set({ last_t: -1 }).execute();
  const t = await login(srv, FLOW, 'tina', 'tina-password-1');
  assert.equal(t.ch.component, 'ak-stage-authenticator-validate');
  assert.equal(
    (await t.b.solve(FLOW, { component: 'ak-stage-authenticator-validate', code: totpCode(known.totpHex) })).component,
    'xak-flow-redirect',
  );

  // app password through the password stage's token backend
  assert.equal((await login(srv, FLOW, 'apu', K.appPassword)).ch.component, 'xak-flow-redirect');

  // captcha: the provider receives the private key
  const b = new BrowserSession(srv);
  await b.get(known.slugs.captcha);
  assert.equal(
    (await b.solve(known.slugs.captcha, { component: 'ak-stage-identification', uid_field: 'tina' })).component,
    'ak-stage-captcha',
  );
  assert.equal((await b.solve(known.slugs.captcha, { component: 'ak-stage-captcha', token: 'pass' })).component, 'ak-stage-dummy');
  assert.equal(providers.captcha.requests.at(-1)!.fields.secret, K.captcha);

  // Duo: the push is signed with the client secret (the double checks the signature)
  const d = await login(srv, known.slugs.duo, 'dora', 'dora-password-1');
  assert.equal(d.ch.component, 'ak-stage-authenticator-validate');
  assert.equal(
    (await d.b.solve(known.slugs.duo, { component: 'ak-stage-authenticator-validate', duo: known.duoDevice })).component,
    'xak-flow-redirect',
  );
  const push = providers.duo.calls.filter((c) => c.path === '/auth/v2/auth').at(-1)!;
  assert.equal(push.signatureValid, true);

  // SMS (generic webhook, basic auth): the gateway receives the credentials
  const name = `sid${++smsUsers}`;
  await createUser(srv, name, `${name}-password-1`);
  const m = await login(srv, known.slugs.sms, name, `${name}-password-1`);
  assert.equal(m.ch.component, 'ak-stage-authenticator-sms');
  await m.b.solve(known.slugs.sms, { component: 'ak-stage-authenticator-sms', phone_number: '+442079460000' });
  assert.equal(providers.sms.messages.at(-1)!.authorization, `Basic ${Buffer.from(`${K.smsAuth}:${K.smsPassword}`).toString('base64')}`);
}

/** the stored values of every secret column */
async function storedSecrets(srv: TestServer): Promise<string[]> {
  const db = srv.app.store.db;
  const out: string[] = [];
  for (const r of await db.selectFrom('tokens').select('key').execute()) out.push(r.key);
  for (const r of await db.selectFrom('totp_devices').select('key').execute()) out.push(r.key);
  const any = db as any;
  for (const r of await any.selectFrom('stage_captcha').select('private_key').execute()) out.push(r.private_key);
  for (const r of await any.selectFrom('stage_authenticator_duo').select(['client_secret', 'admin_secret_key']).execute())
    out.push(r.client_secret, r.admin_secret_key);
  for (const r of await any.selectFrom('stage_authenticator_sms').select(['auth', 'auth_password']).execute())
    out.push(r.auth, r.auth_password);
  for (const r of await any.selectFrom('stage_authenticator_email').select('password').execute()) out.push(r.password);
  return out.filter((v) => v !== '');
}

for (const dialect of dialects()) {
  describe(`secrets at rest (${dialect})`, () => {
    let database: Awaited<ReturnType<typeof freshDatabase>>;
    let srv: TestServer;
    let known: Known;
    const providers = {} as { captcha: FakeCaptcha; duo: FakeDuo; sms: SmsGateway };
    const start = (extra: Partial<Config> = {}) =>
      startServer(dialect, { ...database.overrides, secretKey: SECRET, twilioApiUrl: providers.sms.url, ...extra });

    before(async () => {
      providers.captcha = await new FakeCaptcha().start();
      providers.duo = await new FakeDuo(DUO_IKEY, K.duoSecret).start();
      providers.sms = await new SmsGateway().start();
      database = await freshDatabase(dialect);
      srv = await start();
    });
    after(async () => {
      await srv.close();
      await database.drop();
      await providers.captcha.close();
      await providers.duo.close();
      await providers.sms.close();
    });

    it('no column of any table holds a TOTP key, token key or provider secret in clear; all of them still work', async () => {
      known = await populate(srv, providers);
      // KEYSTAGE_SECRET_KEY is configured: no key is generated and kept in the database
      assert.equal(
        await srv.app.store.db.selectFrom('settings').select('value').where('key', '=', 'secret_key').executeTakeFirst(),
        undefined,
      );
      const kid = new Secrets(SECRET).keyId;
      const stored = await storedSecrets(srv);
      assert.ok(stored.length >= 10, `${stored.length} secret values`);
      for (const v of stored) assert.match(v, new RegExp(`^enc:v1:${kid}:[A-Za-z0-9_-]+$`));
      assertNothingInClear(await dump(srv, dialect), known);
      // the token lookup column is a keyed hash, not the key's plain SHA-256
      const sha = createHash('sha256').update(K.apiKey).digest('hex');
      assert.equal(
        await srv.app.store.db.selectFrom('tokens').select('token_uuid').where('key_hash', '=', sha).executeTakeFirst(),
        undefined,
      );
      await assertWorks(srv, known, providers);
    });

    it('a database whose secrets were written in clear (as before encryption) is encrypted at start and keeps working', async () => {
      const db = srv.app.store.db as any;
      // what an older version stored: keys in clear, the token's lookup column its unkeyed SHA-256
      const sha = (k: string) => createHash('sha256').update(k).digest('hex');
      await db
        .updateTable('tokens')
        .set({ key: K.apiKey, key_hash: sha(K.apiKey) })
        .where('identifier', '=', 'tina-api')
        .execute();
      await db
        .updateTable('tokens')
        .set({ key: known.generatedKey, key_hash: sha(known.generatedKey) })
        .where('identifier', '=', 'generated-api')
        .execute();
      await db
        .updateTable('tokens')
        .set({ key: K.appPassword, key_hash: sha(K.appPassword) })
        .where('identifier', '=', 'apu-app')
        .execute();
      await db.updateTable('totp_devices').set({ key: known.totpHex }).execute();
      await db.updateTable('stage_captcha').set({ private_key: K.captcha }).where('stage_uuid', '=', known.stages.captcha).execute();
      await db
        .updateTable('stage_authenticator_duo')
        .set({ client_secret: K.duoSecret, admin_secret_key: K.duoAdmin })
        .where('stage_uuid', '=', known.stages.duo)
        .execute();
      await db
        .updateTable('stage_authenticator_sms')
        .set({ auth: K.smsAuth, auth_password: K.smsPassword })
        .where('stage_uuid', '=', known.stages.sms)
        .execute();
      await db
        .updateTable('stage_authenticator_email')
        .set({ password: K.smtpPassword })
        .where('stage_uuid', '=', known.stages.email)
        .execute();
      assert.ok(
        (await dump(srv, dialect)).some((r) => r.includes(K.captcha)),
        'the plaintext is there before the restart',
      );
      await srv.close();

      srv = await start();
      const kid = new Secrets(SECRET).keyId;
      for (const v of await storedSecrets(srv)) assert.match(v, new RegExp(`^enc:v1:${kid}:`));
      const rows = await dump(srv, dialect);
      // SQLite's file may keep freed pages of the old rows: compare the rows themselves there
      assertNothingInClear(dialect === 'sqlite' ? rows.filter((r) => /^\w+: /.test(r)) : rows, known);
      await assertWorks(srv, known, providers);

      // idempotent: another start changes nothing
      const before = await storedSecrets(srv);
      await srv.close();
      srv = await start();
      assert.deepEqual(await storedSecrets(srv), before);
    });

    it('another secret key refuses to start; listed in KEYSTAGE_SECRET_KEY_PREVIOUS, the secrets are re-encrypted under the new key', async () => {
      await srv.close();
      await assert.rejects(
        start({ secretKey: OTHER_SECRET }),
        (e: unknown) => e instanceof SecretUnreadable && /KEYSTAGE_SECRET_KEY_PREVIOUS/.test(e.message),
      );
      srv = await start({ secretKey: OTHER_SECRET, secretKeyPrevious: [SECRET] });
      const kid = new Secrets(OTHER_SECRET).keyId;
      for (const v of await storedSecrets(srv)) assert.match(v, new RegExp(`^enc:v1:${kid}:`));
      // every sealed value of every table (a source's bind password, a stream's header, …), not only those above
      assert.deepEqual([...(await sealedKeyIds(srv, dialect))], [kid]);
      await assertWorks(srv, known, providers);
      await srv.close();
      // the old key alone no longer reads them
      await assert.rejects(start({ secretKey: SECRET }), SecretUnreadable);
      srv = await start({ secretKey: OTHER_SECRET });
    });
  });
}

describe('secrets at rest: a generated key, then a configured one (sqlite)', () => {
  it('secrets encrypted under the key generated into the database are re-encrypted under KEYSTAGE_SECRET_KEY once it is set', async () => {
    const database = await freshDatabase('sqlite');
    try {
      let srv = await startServer('sqlite', { ...database.overrides, secretKey: undefined });
      const generated = (
        await srv.app.store.db.selectFrom('settings').select('value').where('key', '=', 'secret_key').executeTakeFirstOrThrow()
      ).value;
      await call(srv, 'POST', '/core/tokens/', { identifier: 'gen-api', intent: 'api', user: 1, expiring: false });
      await call(srv, 'POST', '/core/tokens/gen-api/set_key/', { key: K.apiKey });
      const before = (
        await srv.app.store.db.selectFrom('tokens').select('key').where('identifier', '=', 'gen-api').executeTakeFirstOrThrow()
      ).key;
      assert.match(before, new RegExp(`^enc:v1:${new Secrets(generated).keyId}:`));
      await srv.close();

      srv = await startServer('sqlite', { ...database.overrides, secretKey: SECRET });
      try {
        const after = (
          await srv.app.store.db.selectFrom('tokens').select('key').where('identifier', '=', 'gen-api').executeTakeFirstOrThrow()
        ).key;
        assert.match(after, new RegExp(`^enc:v1:${new Secrets(SECRET).keyId}:`));
        assert.equal(new Secrets(generated).keyId === new Secrets(SECRET).keyId, false);
        assert.equal((await call({ ...srv, token: K.apiKey }, 'GET', '/core/users/me/')).status, 200);
        assert.deepEqual((await call(srv, 'GET', '/core/tokens/gen-api/view_key/')).body, { key: K.apiKey });
      } finally {
        await srv.close();
      }
    } finally {
      await database.drop();
    }
  });
});

describe('secrets at rest: the encryption', () => {
  const s = new Secrets(SECRET);
  it('AES-256-GCM with a fresh nonce each time, bound to its column, refusing altered values', () => {
    const a = s.seal('tokens.key', 'value');
    const b = s.seal('tokens.key', 'value');
    assert.notEqual(a, b, 'a random nonce per value');
    assert.equal(s.open('tokens.key', a), 'value');
    assert.throws(() => s.open('totp_devices.key', a), SecretUnreadable, 'a value copied to another column does not decrypt');
    const body = Buffer.from(a.split(':')[3]!, 'base64url');
    body[body.length - 20]! ^= 1;
    assert.throws(() => s.open('tokens.key', `enc:v1:${s.keyId}:${body.toString('base64url')}`), SecretUnreadable, 'altered ciphertext');
    assert.throws(() => new Secrets(OTHER_SECRET).open('tokens.key', a), SecretUnreadable, 'another key');
    assert.equal(new Secrets(OTHER_SECRET, [SECRET]).open('tokens.key', a), 'value', 'a previous key reads');
    assert.equal(s.seal('x.y', ''), '', 'no secret set stays empty');
    assert.equal(
      s.open('tokens.key', 'legacy-plaintext'),
      'legacy-plaintext',
      'a value in clear (before its re-encryption at start) is read as is',
    );
    assert.notEqual(s.lookupHash('k'), createHash('sha256').update('k').digest('hex'));
    assert.notEqual(s.lookupHash('k'), new Secrets(OTHER_SECRET).lookupHash('k'));
  });
});
