/**
 * Security: guesses sent all at once. A check is reserved in the shared failure records before any secret is looked
 * at, so however many arrive together only the configured number are evaluated; and the requests of one login run
 * one at a time, so `failed_attempts_before_cancel` cancels the plan at exactly its count. On SQLite and
 * PostgreSQL, and across two nodes on PostgreSQL.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { THROTTLED_MESSAGE } from '../../src/auth/lockout.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { describePostgres } from '../helpers/postgres.js';

const INVALID = { password: [{ string: 'Invalid password', code: 'invalid' }] };
const THROTTLED = { password: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] };

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

  it('one login, 30 wrong passwords and the right one at once: the plan is cancelled after exactly failed_attempts_before_cancel checks', async () => {
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
    const bodies = [...Array.from({ length: 30 }, () => 'wrong-guess'), 'the-right-password-2'];
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
}

for (const dialect of dialects()) {
  describe(`security: concurrent guesses (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, {
        trustedProxies: '127.0.0.1',
        lockout: { accountIpLimit: 10, accountLimit: 1000, ipLimit: 1000, slowAfter: 100 },
      });
    });
    after(async () => srv.close());
    concurrencyCases(() => [srv]);
  });
}

describePostgres('security: concurrent guesses across two nodes (postgres)', 'two nodes share one PostgreSQL database', () => {
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    const cfg = { trustedProxies: '127.0.0.1', lockout: { accountIpLimit: 10, accountLimit: 1000, ipLimit: 1000, slowAfter: 100 } };
    a = await startServer('postgres', cfg);
    b = await startServer('postgres', { ...cfg, databaseUrl: a.config.databaseUrl });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });
  concurrencyCases(() => [a, b]);
});
