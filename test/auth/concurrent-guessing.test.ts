/**
 * Security: guesses sent all at once. A check is reserved in the shared failure records before any secret is looked
 * at — a password, a password embedded in identification, an app password, a TOTP, static, e-mail or SMS code — so
 * however many arrive together only the configured number are evaluated; and the requests of one login run one at
 * a time, so `failed_attempts_before_cancel` cancels the plan at exactly its count. On SQLite and PostgreSQL, and
 * across two nodes on PostgreSQL.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { THROTTLED_MESSAGE } from '../../src/auth/lockout.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { describePostgres } from '../helpers/postgres.js';
import { SmsGateway, SmtpSink } from '../helpers/fake-providers.js';
import { addTotpDevice } from '../helpers/devices.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';
import { hashStaticToken } from '../../src/mfa/static/static.js';

const INVALID = { password: [{ string: 'Invalid password', code: 'invalid' }] };
const THROTTLED = { password: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] };
const FAILED_ID = { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] };
const THROTTLED_ID = { non_field_errors: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] };
const INVALID_CODE = {
  code: [{ string: 'Invalid Token. Please ensure the time on your device is accurate and try again.', code: 'invalid' }],
};
const THROTTLED_CODE = { code: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] };
const SECRET = 'concurrent-guessing-secret-' + 's'.repeat(32);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** an SMTP sink and an SMS gateway on 127.0.0.1, shared by every describe of this file */
const providers = { smtp: new SmtpSink(), sms: new SmsGateway() };
before(async () => {
  await providers.smtp.start();
  await providers.sms.start();
});
after(async () => {
  await providers.smtp.close();
  await providers.sms.close();
});
const config = () => ({
  trustedProxies: '127.0.0.1',
  secretKey: SECRET,
  twilioApiUrl: providers.sms.url,
  lockout: { accountIpLimit: 10, accountLimit: 1000, ipLimit: 1000, slowAfter: 100 },
});

/** a browser whose requests may go to any of several nodes (one cookie jar) */
class Client extends CookieJar {
  constructor(
    private readonly nodes: TestServer[],
    private readonly slug: string,
    ip: string,
  ) {
    super({ 'x-forwarded-for': ip });
  }
  private n = 0;
  step(body?: Record<string, unknown>, node = this.n++ % this.nodes.length) {
    const url = `${this.nodes[node]!.api}/flows/executor/${this.slug}/?query=`;
    return this.json(url, body ? 'POST' : 'GET', body);
  }
}

async function identified(nodes: TestServer[], slug: string, uid: string, ip: string) {
  const c = new Client(nodes, slug, ip);
  await c.step();
  const pw = await c.step({ component: 'ak-stage-identification', uid_field: uid });
  assert.equal(pw.body.component, 'ak-stage-password');
  return c;
}

async function failedLogins(srv: TestServer, username: string): Promise<number> {
  const r = await call(srv, 'GET', `/events/events/?action=login_failed&page_size=1000`);
  return (r.body.results as { context: { username?: string } }[]).filter((e) => e.context.username === username).length;
}

/** login_failed events of a user who exists (MFA failures name the user, not a typed identifier) */
async function failedMfa(srv: TestServer, username: string): Promise<number> {
  const r = await call(srv, 'GET', `/events/events/?action=login_failed&page_size=1000`);
  return (r.body.results as { user?: { username?: string }; context: { reason?: string } }[]).filter(
    (e) => e.user?.username === username && e.context.reason === 'mfa: invalid code',
  ).length;
}

async function pairCount(srv: TestServer, username: string, ip: string): Promise<number> {
  const row = await srv.app.store.db
    .selectFrom('auth_failures')
    .select('count')
    .where('scope', '=', 'account_ip')
    .where('key', '=', `${username}|${ip}`)
    .executeTakeFirst();
  return Number(row?.count ?? 0);
}

/** the two checks, against the nodes given (one, or two sharing a PostgreSQL database) */
function concurrencyCases(nodes: () => TestServer[]) {
  it('40 guesses from 40 sessions at once: only KEYSTAGE_LOCKOUT_ACCOUNT_IP_LIMIT of them are checked', async () => {
    const [srv] = nodes();
    const user = `crowd-${nodes().length}`;
    await createUser(srv!, user, 'the-right-password-1');
    const ip = `198.51.100.${nodes().length}`;
    const clients = await Promise.all(Array.from({ length: 40 }, () => identified(nodes(), 'default-authentication-flow', user, ip)));
    const answers = await Promise.all(clients.map((c) => c.step({ component: 'ak-stage-password', password: 'wrong-guess' })));
    const invalid = answers.filter((a) => JSON.stringify(a.body.response_errors) === JSON.stringify(INVALID)).length;
    const throttled = answers.filter((a) => JSON.stringify(a.body.response_errors) === JSON.stringify(THROTTLED)).length;
    assert.equal(invalid, 10, 'exactly the limit were checked');
    assert.equal(throttled, 30, 'the rest were refused before any check');
    assert.equal(await failedLogins(srv!, user), 10, 'ten failed checks in the audit log');
    assert.equal(await pairCount(srv!, user, ip), 10, 'refused reservations were taken back');
    // the right password is refused too now, from this address
    const late = await identified(nodes(), 'default-authentication-flow', user, ip);
    assert.deepEqual(
      (await late.step({ component: 'ak-stage-password', password: 'the-right-password-1' })).body.response_errors,
      THROTTLED,
    );
  });

  it('one login, 99 wrong passwords and the right one at once (as in the probe): the plan is cancelled after exactly failed_attempts_before_cancel checks', async () => {
    const [srv] = nodes();
    const user = `racer-${nodes().length}`;
    await createUser(srv!, user, 'the-right-password-2');
    const s = await defaultStages(srv!);
    const password = await createStage(srv!, '/stages/password/', {
      name: `racer-password-${nodes().length}`,
      backends: ['authentik.core.auth.InbuiltBackend'],
      failed_attempts_before_cancel: 5,
    });
    const slug = await flowOf(srv!, `racer-flow-${nodes().length}`, [s.identification, password, s.login]);
    const c = await identified(nodes(), slug, user, `203.0.113.${nodes().length}`);
    const bodies = [...Array.from({ length: 99 }, () => 'wrong-guess'), 'the-right-password-2'];
    const answers = await Promise.all(bodies.map((pw) => c.step({ component: 'ak-stage-password', password: pw })));
    const checked = await failedLogins(srv!, user);
    const loggedIn = answers.filter((a) => a.body.component === 'xak-flow-redirect').length;
    const denied = answers.filter((a) => a.body.component === 'ak-stage-access-denied').length;
    const invalid = answers.filter((a) => JSON.stringify(a.body.response_errors) === JSON.stringify(INVALID)).length;
    // either the right password came before the fifth failure (it logs in, and later guesses meet a finished
    // flow), or the fifth failure cancelled the plan and no later password was checked
    assert.ok(checked <= 5, `${checked} wrong passwords were checked`);
    if (loggedIn === 0) {
      assert.equal(checked, 5);
      assert.equal(denied, 1, 'the fifth failure cancels the plan');
      assert.equal(invalid, 4);
    } else {
      assert.equal(loggedIn, 1);
      assert.equal(invalid, checked);
    }
    assert.ok(answers.every((a) => a.status === 200));
  });

  it('a password embedded in identification: 40 guesses from 40 sessions at once, only the limit are checked', async () => {
    const [srv] = nodes();
    const n = nodes().length;
    const user = `embedded-crowd-${n}`;
    await createUser(srv!, user, 'the-right-password-3');
    const s = await defaultStages(srv!);
    const ident = await createStage(srv!, '/stages/identification/', {
      name: `embedded-crowd-id-${n}`,
      user_fields: ['username'],
      password_stage: s.password,
    });
    const slug = await flowOf(srv!, `embedded-crowd-${n}`, [ident, s.login]);
    const ip = `198.51.100.${10 + n}`;
    const start = async () => {
      const c = new Client(nodes(), slug, ip);
      assert.equal((await c.step()).body.component, 'ak-stage-identification');
      return c;
    };
    const clients = await Promise.all(Array.from({ length: 40 }, start));
    const answers = await Promise.all(
      clients.map((c) => c.step({ component: 'ak-stage-identification', uid_field: user, password: 'wrong-guess' })),
    );
    assert.equal(answers.filter((a) => same(a.body.response_errors, FAILED_ID)).length, 10, 'exactly the limit were checked');
    assert.equal(answers.filter((a) => same(a.body.response_errors, THROTTLED_ID)).length, 30, 'the rest were refused before any check');
    assert.equal(await failedLogins(srv!, user), 10);
    assert.equal(await pairCount(srv!, user, ip), 10);
    const late = await start();
    assert.deepEqual(
      (await late.step({ component: 'ak-stage-identification', uid_field: user, password: 'the-right-password-3' })).body.response_errors,
      THROTTLED_ID,
    );
  });

  it('an app password (the token backend): 40 guesses from 40 sessions at once, only the limit are checked', async () => {
    const [srv] = nodes();
    const n = nodes().length;
    const user = `app-crowd-${n}`;
    const pk = await createUser(srv!, user, 'the-right-password-4');
    const token = await call(srv!, 'POST', '/core/tokens/', { identifier: `app-crowd-${n}`, intent: 'app_password', user: pk });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    const appPassword = (await call(srv!, 'GET', `/core/tokens/app-crowd-${n}/view_key/`)).body.key as string;
    const s = await defaultStages(srv!);
    const tokenOnly = await createStage(srv!, '/stages/password/', {
      name: `app-crowd-password-${n}`,
      backends: ['authentik.core.auth.TokenBackend'],
      failed_attempts_before_cancel: 5,
    });
    const slug = await flowOf(srv!, `app-crowd-${n}`, [s.identification, tokenOnly, s.login]);
    // the app password works (from elsewhere)
    const ok = await identified(nodes(), slug, user, '192.0.2.200');
    assert.equal((await ok.step({ component: 'ak-stage-password', password: appPassword })).body.component, 'xak-flow-redirect');
    const ip = `198.51.100.${20 + n}`;
    const clients = await Promise.all(Array.from({ length: 40 }, () => identified(nodes(), slug, user, ip)));
    const answers = await Promise.all(clients.map((c) => c.step({ component: 'ak-stage-password', password: 'wrong-app-password' })));
    assert.equal(answers.filter((a) => same(a.body.response_errors, INVALID)).length, 10, 'exactly the limit were checked');
    assert.equal(answers.filter((a) => same(a.body.response_errors, THROTTLED)).length, 30, 'the rest were refused before any check');
    assert.equal(await failedLogins(srv!, user), 10);
    assert.equal(await pairCount(srv!, user, ip), 10);
    const late = await identified(nodes(), slug, user, ip);
    assert.deepEqual((await late.step({ component: 'ak-stage-password', password: appPassword })).body.response_errors, THROTTLED);
  });

  for (const cls of ['totp', 'static', 'email', 'sms'] as const) {
    it(`${cls} codes: 30 wrong codes from 30 login attempts at once, only the limit are checked; the right code is refused after`, async () => {
      const [srv] = nodes();
      const n = nodes().length;
      const user = `${cls}-crowd-${n}`;
      const id = await createUser(srv!, user, `${user}-password-1`);
      const db = srv!.app.store.db;
      const now = new Date().toISOString();
      const common = { user_id: id, confirmed: 1, created: now, last_updated: now, last_used: null };
      const throttle = { throttling_failure_timestamp: null, throttling_failure_count: 0 };
      const sidechannel = { ...common, ...throttle, name: cls, token_hash: null, valid_until: null };
      const phone = `+1555070${n}${cls === 'sms' ? 1 : 2}`;
      let rightCode: () => Promise<string> = async () => '';
      if (cls === 'totp') {
        const { key } = await addTotpDevice(db, id, { created: now });
        rightCode = async () => totpAt(key, currentStep({ t0: 0, step: 30 }), 6);
      } else if (cls === 'static') {
        const dev = await db
          .insertInto('static_devices')
          .values({ ...common, ...throttle, name: 'codes' } as never)
          .returning('id')
          .executeTakeFirstOrThrow();
        await db
          .insertInto('static_tokens')
          .values({ device_id: dev.id, token: hashStaticToken(SECRET, 'right-static-1') } as never)
          .execute();
        rightCode = async () => 'right-static-1';
      } else if (cls === 'email') {
        const stage = await createStage(srv!, '/stages/authenticator/email/', {
          name: `crowd-mail-${n}`,
          host: '127.0.0.1',
          port: providers.smtp.port,
          from_address: 'login@keystage.test',
          token_expiry: 'minutes=5',
        });
        await db
          .insertInto('email_devices')
          .values({ ...sidechannel, stage, email: `${user}@example.com` } as never)
          .execute();
        rightCode = async () => providers.smtp.lastCode(`${user}@example.com`)!;
      } else {
        const stage = await createStage(srv!, '/stages/authenticator/sms/', {
          name: `crowd-sms-${n}`,
          provider: 'twilio',
          from_number: '+15550000000',
          account_sid: 'AC1',
          auth: 't',
        });
        await db
          .insertInto('sms_devices')
          .values({ ...sidechannel, stage, phone_number: phone } as never)
          .execute();
        rightCode = async () => providers.sms.lastCode(phone)!;
      }
      const s = await defaultStages(srv!);
      const validate = await createStage(srv!, '/stages/authenticator/validate/', {
        name: `${cls}-crowd-validate-${n}`,
        device_classes: [cls],
        not_configured_action: 'deny',
      });
      const slug = await flowOf(srv!, `${cls}-crowd-${n}`, [s.identification, s.password, validate, s.login]);
      const ip = `198.51.100.${30 + n * 10 + ['totp', 'static', 'email', 'sms'].indexOf(cls)}`;
      /** a login attempt that reached the validation stage (one after the other: each right password is a reserved check too) */
      const atValidation = async () => {
        const c = await identified(nodes(), slug, user, ip);
        const ch = await c.step({ component: 'ak-stage-password', password: `${user}-password-1` });
        assert.equal(ch.body.component, 'ak-stage-authenticator-validate', JSON.stringify(ch.body));
        return { c, challenge: ch.body.device_challenges[0] as Record<string, unknown> };
      };
      const attempts: Awaited<ReturnType<typeof atValidation>>[] = [];
      for (let i = 0; i < 30; i++) attempts.push(await atValidation());
      // e-mail and SMS: one of the attempts has a code on its way (the one the right code belongs to)
      const first = attempts[0]!;
      if (cls === 'email' || cls === 'sms') {
        const { last_used: _l, ...selected } = first.challenge;
        const sent = await first.c.step({ component: 'ak-stage-authenticator-validate', selected_challenge: selected });
        // (a selection alone is answered "Empty response", as in authentik; the code is on its way)
        assert.equal(sent.body.response_errors.selected_challenge, undefined, JSON.stringify(sent.body));
      }
      const right = await rightCode();
      assert.match(right, /\S/);
      const answers = await Promise.all(attempts.map((a) => a.c.step({ component: 'ak-stage-authenticator-validate', code: '000000' })));
      assert.equal(answers.filter((a) => same(a.body.response_errors, INVALID_CODE)).length, 10, 'exactly the limit were checked');
      assert.equal(
        answers.filter((a) => same(a.body.response_errors, THROTTLED_CODE)).length,
        20,
        'the rest were refused before any check',
      );
      assert.equal(await failedMfa(srv!, user), 10, 'ten failed checks in the audit log');
      assert.equal(await pairCount(srv!, user, ip), 10, 'refused reservations were taken back');
      const late = await first.c.step({ component: 'ak-stage-authenticator-validate', code: right });
      assert.deepEqual(late.body.response_errors, THROTTLED_CODE, 'the right code is refused too now, from this address');
    });
  }
}

for (const dialect of dialects()) {
  describe(`security: concurrent guesses (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, config());
    });
    after(async () => srv.close());
    concurrencyCases(() => [srv]);
  });
}

describePostgres('security: concurrent guesses across two nodes (postgres)', 'two nodes share one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const cfg = config();
    a = await startServer('postgres', cfg);
    b = await startServer('postgres', { ...cfg, databaseUrl: a.config.databaseUrl });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });
  concurrencyCases(() => [a, b]);
});
