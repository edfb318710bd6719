/**
 * Security: failed-authentication records. Shared by every place a secret is checked, the same for existing and
 * unknown identifiers, per account and per IP, without letting an attacker lock a user out of their usual IP.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { addTotpDevice } from '../helpers/devices.js';
import { THROTTLED_MESSAGE } from '../../src/auth/lockout.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';

async function createUser(srv: TestServer, username: string, password: string) {
  const u = await call(srv, 'POST', '/core/users/', { username, name: username, email: `${username}@example.com` });
  assert.equal(u.status, 201);
  assert.equal((await call(srv, 'POST', `/core/users/${u.body.pk}/set_password/`, { password })).status, 204);
  return u.body.pk as number;
}

/** identification → password with `password`, from `ip`; returns the last challenge */
async function attempt(srv: TestServer, username: string, password: string, ip: string) {
  const c = new FlowClient(srv, 'default-authentication-flow', { ip });
  await c.get();
  await c.post({ component: 'ak-stage-identification', uid_field: username });
  return (await c.post({ component: 'ak-stage-password', password })).body;
}

for (const dialect of dialects()) {
  describe(`security: shared failure records (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, {
        trustedProxies: '127.0.0.1',
        lockout: { accountIpLimit: 3, accountLimit: 6, ipLimit: 1000, slowAfter: 100 },
      });
      await createUser(srv, 'mallory-target', 'target-password-1');
      await createUser(srv, 'frequent', 'frequent-password-1');
    });
    after(async () => srv.close());

    it('refuses an identifier from an IP after repeated failures, even with the right password, then a login elsewhere still works', async () => {
      for (let i = 0; i < 3; i++) {
        const r = await attempt(srv, 'mallory-target', 'wrong', '198.51.100.1');
        assert.deepEqual(r.response_errors, { password: [{ string: 'Invalid password', code: 'invalid' }] });
      }
      const refused = await attempt(srv, 'mallory-target', 'target-password-1', '198.51.100.1');
      assert.deepEqual(refused.response_errors, { password: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] });
      // the same person from another address is not affected by that pair's record
      const elsewhere = await attempt(srv, 'mallory-target', 'target-password-1', '198.51.100.2');
      assert.equal(elsewhere.component, 'xak-flow-redirect');
    });

    it('throttles an unknown identifier exactly like an existing one (no enumeration)', async () => {
      const known: unknown[] = [];
      const unknown: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        known.push((await attempt(srv, 'frequent', 'wrong', '198.51.100.9')).response_errors);
        unknown.push((await attempt(srv, 'nobody-at-all', 'wrong', '198.51.100.9')).response_errors);
      }
      assert.deepEqual(known, unknown);
      assert.deepEqual(known[3], { password: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] });
    });

    it('caps failures per account per hour for unknown IPs, but not from an IP the user logged in from', async () => {
      await createUser(srv, 'victim', 'victim-password-1');
      // the victim logs in once from home
      assert.equal((await attempt(srv, 'victim', 'victim-password-1', '203.0.113.7')).component, 'xak-flow-redirect');
      // an attacker spreads failures over many addresses
      for (let i = 0; i < 6; i++) await attempt(srv, 'victim', 'wrong', `192.0.2.${10 + i}`);
      const fromNewIp = await attempt(srv, 'victim', 'victim-password-1', '192.0.2.99');
      assert.deepEqual(fromNewIp.response_errors, { password: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] });
      // … but the victim at home is not locked out
      assert.equal((await attempt(srv, 'victim', 'victim-password-1', '203.0.113.7')).component, 'xak-flow-redirect');
      // and a successful login reset the account's record (to 0: the row stays, counting afresh from the next failure)
      const rows = await srv.app.store.db.selectFrom('auth_failures').selectAll().where('key', '=', 'victim').execute();
      assert.deepEqual(
        rows.map((r) => [r.scope, Number(r.count)]),
        [['account', 0]],
      );
      // … which counts the next failure as the first of a new window
      await attempt(srv, 'victim', 'wrong', '192.0.2.60');
      const [after] = await srv.app.store.db
        .selectFrom('auth_failures')
        .selectAll()
        .where('scope', '=', 'account')
        .where('key', '=', 'victim')
        .execute();
      assert.equal(Number(after!.count), 1);
      assert.ok(Date.parse(after!.window_start) > Date.parse(rows[0]!.window_start), 'the window restarts at the failure');
    });

    it('a login by e-mail resets the counters of the username and of the e-mail typed (from that IP), and no others', async () => {
      await createUser(srv, 'twonames', 'twonames-password-1');
      const ip = '203.0.113.77';
      // failures of an existing account are counted on its username, whichever identifier was typed
      await attempt(srv, 'twonames', 'wrong', ip);
      await attempt(srv, 'twonames@example.com', 'wrong', ip);
      await attempt(srv, 'twonames@example.com', 'wrong', '203.0.113.78');
      const counts = async () =>
        (
          await srv.app.store.db
            .selectFrom('auth_failures')
            .select(['scope', 'key', 'count'])
            .where('key', 'in', [
              'twonames',
              'twonames@example.com',
              `twonames|${ip}`,
              `twonames@example.com|${ip}`,
              'twonames|203.0.113.78',
            ])
            .execute()
        )
          .map((r) => `${r.scope} ${r.key} ${Number(r.count)}`)
          .sort();
      assert.deepEqual(await counts(), ['account twonames 3', `account_ip twonames|${ip} 2`, 'account_ip twonames|203.0.113.78 1']);
      assert.equal((await attempt(srv, 'twonames@example.com', 'twonames-password-1', ip)).component, 'xak-flow-redirect');
      assert.deepEqual(await counts(), [
        'account twonames 0',
        'account twonames@example.com 0',
        'account_ip twonames@example.com|203.0.113.77 0',
        `account_ip twonames|${ip} 0`,
        'account_ip twonames|203.0.113.78 1',
      ]);
    });

    it('a login from an address the user logged in from before is a known device in the login event; the count of logins is kept', async () => {
      const id = await createUser(srv, 'returning', 'returning-password-1');
      for (const ip of ['203.0.113.40', '203.0.113.40', '203.0.113.41'])
        assert.equal((await attempt(srv, 'returning', 'returning-password-1', ip)).component, 'xak-flow-redirect');
      const events = await srv.app.store.db
        .selectFrom('events')
        .select(['context', 'client_ip'])
        .where('action', '=', 'login')
        .where('username', '=', 'returning')
        .orderBy('created')
        .execute();
      assert.deepEqual(
        events.map((e) => [e.client_ip, JSON.parse(e.context).auth_method_args.known_device]),
        [
          ['203.0.113.40', false],
          ['203.0.113.40', true],
          ['203.0.113.41', false],
        ],
      );
      const ips = await srv.app.store.db.selectFrom('login_ips').select(['ip', 'logins']).where('user_id', '=', id).orderBy('ip').execute();
      assert.deepEqual(
        ips.map((r) => [r.ip, Number(r.logins)]),
        [
          ['203.0.113.40', 2],
          ['203.0.113.41', 1],
        ],
      );
    });

    it('gives back the reservation of every check that passed: at the login (its transaction) or when the request ends', async () => {
      const db = srv.app.store.db;
      /** the failure records of an address and of an identifier */
      const counts = async (ip: string, name: string) =>
        Object.fromEntries(
          (
            await db
              .selectFrom('auth_failures')
              .select(['scope', 'count'])
              .where('key', 'in', [ip, name, `${name}|${ip}`])
              .execute()
          ).map((r) => [r.scope, Number(r.count)]),
        );
      /** the login page's path: POSTs answered with the next challenge (the login runs in the request of the last check) */
      const inline = (ip: string) => {
        const jar = new CookieJar({ 'x-forwarded-for': ip });
        const url = `${srv.api}/flows/executor/default-authentication-flow/?query=`;
        return {
          get: () => jar.json(url),
          post: async (body: Record<string, unknown>) => {
            const res = await jar.fetch(url, {
              method: 'POST',
              headers: { accept: 'application/json', 'content-type': 'application/json', 'x-keystage-inline': '1' },
              body: JSON.stringify(body),
            });
            return { status: res.status, body: await res.json() };
          },
        };
      };
      // an address with one failure already counted keeps exactly that one through logins, whichever path they take;
      // each login resets its identifier's counters to 0
      await attempt(srv, 'nobody-here', 'wrong', '198.51.100.60');
      await createUser(srv, 'giver', 'giver-password-1');
      // password only, the page's path: identification, then the password's POST logs in (one request)
      const page = inline('198.51.100.60');
      await page.get();
      await page.post({ component: 'ak-stage-identification', uid_field: 'giver' });
      const done = await page.post({ component: 'ak-stage-password', password: 'giver-password-1' });
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.deepEqual(await counts('198.51.100.60', 'giver'), { ip: 1, account_ip: 0, account: 0 });
      // the authentik protocol: the password's POST ends before the login (302, then the GET logs in)
      assert.equal((await attempt(srv, 'giver', 'giver-password-1', '198.51.100.60')).component, 'xak-flow-redirect');
      assert.deepEqual(await counts('198.51.100.60', 'giver'), { ip: 1, account_ip: 0, account: 0 });
      // password + TOTP: the password's request ends at the code's challenge (no login in it) and gives its
      // reservation back then; the code's request logs in
      const id = await createUser(srv, 'giver-totp', 'giver-totp-password-1');
      const { key } = await addTotpDevice(db, id);
      const mfa = inline('198.51.100.60');
      await mfa.get();
      await mfa.post({ component: 'ak-stage-identification', uid_field: 'giver-totp' });
      const validate = await mfa.post({ component: 'ak-stage-password', password: 'giver-totp-password-1' });
      assert.equal(validate.body.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(await counts('198.51.100.60', 'giver-totp'), { ip: 1, account_ip: 0, account: 0 });
      const code = totpAt(key, currentStep({ t0: 0, step: 30 }), 6);
      const loggedIn = await mfa.post({ component: 'ak-stage-authenticator-validate', code });
      assert.equal(loggedIn.body.component, 'xak-flow-redirect');
      assert.deepEqual(await counts('198.51.100.60', 'giver-totp'), { ip: 1, account_ip: 0, account: 0 });
      // a failed code stays counted
      const again = inline('198.51.100.60');
      await again.get();
      await again.post({ component: 'ak-stage-identification', uid_field: 'giver-totp' });
      await again.post({ component: 'ak-stage-password', password: 'giver-totp-password-1' });
      const wrong = await again.post({ component: 'ak-stage-authenticator-validate', code: code === '000000' ? '111111' : '000000' });
      assert.equal(wrong.body.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(await counts('198.51.100.60', 'giver-totp'), { ip: 2, account_ip: 1, account: 1 });
    });

    it('counts failures of a password embedded in identification in the same record', async () => {
      await createUser(srv, 'embedded', 'embedded-password-1');
      const pw = (await call(srv, 'GET', '/stages/password/?name=default-authentication-password')).body.results[0].pk;
      const ident = await call(srv, 'POST', '/stages/identification/', {
        name: 'lockout-embedded-id',
        user_fields: ['username'],
        password_stage: pw,
        pretend_user_exists: true,
      });
      const login = (await call(srv, 'GET', '/stages/user_login/?name=default-authentication-login')).body.results[0].pk;
      const flow = await call(srv, 'POST', '/flows/instances/', {
        name: 'E',
        slug: 'lockout-embedded',
        title: 'E',
        designation: 'authentication',
      });
      await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: ident.body.pk, order: 10 });
      await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: login, order: 20 });
      // two failures in the embedded field, one in the standalone stage: the pair is refused afterwards
      for (let i = 0; i < 2; i++) {
        const c = new FlowClient(srv, 'lockout-embedded', { ip: '198.51.100.50' });
        await c.get();
        const r = await c.post({ component: 'ak-stage-identification', uid_field: 'embedded', password: 'wrong' });
        assert.deepEqual(r.body.response_errors, { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] });
      }
      await attempt(srv, 'embedded', 'wrong', '198.51.100.50');
      const c = new FlowClient(srv, 'lockout-embedded', { ip: '198.51.100.50' });
      await c.get();
      const r = await c.post({ component: 'ak-stage-identification', uid_field: 'embedded', password: 'embedded-password-1' });
      assert.deepEqual(r.body.response_errors, { non_field_errors: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] });
    });

    it('records login, login_failed (reason server-side only) and throttling as events', async () => {
      const r = await call(srv, 'GET', '/events/events/?action=login_failed&username=&ordering=-created&page_size=100');
      assert.equal(r.status, 200);
      const reasons = r.body.results.map((e: { context: { reason: string } }) => e.context.reason);
      assert.ok(reasons.includes('unknown user'));
      assert.ok(reasons.includes('invalid password or inactive user'));
      const logins = await call(srv, 'GET', '/events/events/?actions=login&username=victim');
      assert.ok(logins.body.pagination.count >= 1);
      assert.equal(logins.body.results[0].user.username, 'victim');
      assert.equal(logins.body.results[0].client_ip, '203.0.113.7');
      const throttled = await call(srv, 'GET', '/events/events/?action=suspicious_request');
      assert.ok(throttled.body.pagination.count >= 1);
      const byIp = await call(srv, 'GET', '/events/events/?client_ip=198.51.100.9');
      assert.ok(byIp.body.results.every((e: { client_ip: string }) => e.client_ip === '198.51.100.9'));
      // `actions` is a choice among the actions; `action` (authentik: icontains) is any substring
      assert.equal((await call(srv, 'GET', '/events/events/?actions=not-an-action')).status, 400);
      assert.equal((await call(srv, 'GET', '/events/events/?action=not-an-action')).body.pagination.count, 0);
    });

    it('records every admin write and password set as events', async () => {
      const d = await call(srv, 'POST', '/stages/dummy/', { name: 'evented-dummy' });
      await call(srv, 'PATCH', `/stages/dummy/${d.body.pk}/`, { throw_error: true });
      await call(srv, 'DELETE', `/stages/dummy/${d.body.pk}/`);
      const r = await call(srv, 'GET', '/events/events/?search=model_&page_size=100');
      const mine = r.body.results.filter((e: { context: { model?: { pk: string } } }) => e.context.model?.pk === d.body.pk);
      assert.deepEqual(mine.map((e: { action: string }) => e.action).sort(), ['model_created', 'model_deleted', 'model_updated']);
      assert.equal(mine[0].user.username, 'akadmin');
      const pw = await call(srv, 'GET', '/events/events/?action=password_set');
      assert.ok(pw.body.pagination.count >= 1);
    });

    it('events expire after the retention period', async () => {
      const db = srv.app.store.db;
      await db
        .insertInto('events')
        .values({
          event_uuid: '6f1c7f4e-0000-4000-8000-000000000001',
          action: 'login',
          app: 'keystage',
          user: '{}',
          username: 'old',
          context: '{}',
          client_ip: null,
          created: new Date(Date.now() - 2e10).toISOString(),
          expires: new Date(Date.now() - 1000).toISOString(),
        })
        .execute();
      assert.ok((await srv.app.services.events.purgeExpired()) >= 1);
      assert.equal((await call(srv, 'GET', '/events/events/?username=old')).body.pagination.count, 0);
      const fresh = await call(srv, 'GET', '/events/events/?page_size=1');
      assert.ok(new Date(fresh.body.results[0].expires).getTime() > Date.now() + 300 * 86_400_000, 'kept for the configured 365 days');
    });

    it('exposes logins, failures and hash timings as Prometheus metrics', async () => {
      const res = await srv.app.metricsApp.inject({ method: 'GET', url: '/metrics' });
      assert.equal(res.statusCode, 200);
      assert.match(res.body, /keystage_logins_total\{flow="default-authentication-flow"\} \d+/);
      assert.match(
        res.body,
        /keystage_login_failures_total\{flow="default-authentication-flow",stage="default-authentication-password",reason="password"\} \d+/,
      );
      assert.match(res.body, /keystage_password_hash_seconds_count\{op="verify"\} \d+/);
      assert.match(
        res.body,
        /keystage_http_request_duration_seconds_bucket\{le="[^"]+",method="POST",route="\/api\/v3\/flows\/executor\/:flow_slug\/",status="200"\}/,
      );
      assert.match(res.body, /keystage_db_pool_connections\{state="total"\}/);
    });
  });
}
