/**
 * With PostgreSQL, a flow POST holds its session's row (a lease) so the requests of one login run one at a time
 * across nodes. The holder renews the lease while it runs, so a request longer than the lease keeps the session to
 * itself; a node that dies holding it frees it when its lease runs out. Two servers on one database stand for two
 * nodes; a captcha provider that never answers keeps a request running until the captcha timeout.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { FakeCaptcha } from '../helpers/fake-captcha.js';
import { describePostgres } from '../helpers/postgres.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

const LEASE_MS = 600;
const CAPTCHA_TIMEOUT_MS = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describePostgres('session leases across nodes', 'the lease is a PostgreSQL row lock shared by processes', () => {
  let a: TestServer;
  let b: TestServer;
  let provider: FakeCaptcha;
  before(async () => {
    provider = await new FakeCaptcha().start();
    a = await startServer('postgres', { sessionLeaseMs: LEASE_MS, captchaTimeoutMs: CAPTCHA_TIMEOUT_MS });
    b = await startServer('postgres', {
      databaseUrl: a.config.databaseUrl,
      sessionLeaseMs: LEASE_MS,
      captchaTimeoutMs: CAPTCHA_TIMEOUT_MS,
    });
    const captcha = await call(a, 'POST', '/stages/captcha/', {
      name: 'lease-captcha',
      public_key: 'k',
      private_key: 's',
      api_url: provider.siteverify(),
    });
    const flow = await call(a, 'POST', '/flows/instances/', { name: 'l', slug: 'lease-flow', title: 'l', designation: 'authentication' });
    // a stage passed first, so the session is stored before the captcha stage
    const dummy = await call(a, 'POST', '/stages/dummy/', { name: 'lease-dummy' });
    await call(a, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: dummy.body.pk, order: 5 });
    await call(a, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: captcha.body.pk, order: 10 });
  });
  after(async () => {
    await b?.close();
    await a?.close();
    await provider?.close();
  });

  const executor = (srv: TestServer) => `${srv.api}/flows/executor/lease-flow/?query=`;
  const leaseOf = async (jar: CookieJar) =>
    (
      await a.app.store.db
        .selectFrom('sessions')
        .select('lock_until')
        .where('session_key', '=', sessionKeyOf(jar.cookies.get('authentik_session')!))
        .executeTakeFirstOrThrow()
    ).lock_until;

  /**
   * the lease of a request just sent, once it has taken it (polled: on a loaded machine the request may need more
   * than a fixed pause to get there; it is held for the captcha's whole timeout)
   */
  const leaseTaken = async (jar: CookieJar) => {
    for (const deadline = Date.now() + CAPTCHA_TIMEOUT_MS / 2; ; await sleep(20)) {
      const held = await leaseOf(jar);
      if (held || Date.now() > deadline) return held;
    }
  };

  /** a browser with a stored session at the captcha stage */
  async function browser(): Promise<CookieJar> {
    const jar = new CookieJar();
    provider.mode = 'normal';
    assert.equal((await jar.json(executor(a))).body.component, 'ak-stage-dummy');
    const first = await jar.json(executor(a), 'POST', { component: 'ak-stage-dummy' });
    assert.equal(first.body.component, 'ak-stage-captcha');
    assert.ok(jar.cookies.get('authentik_session'), 'the session is stored');
    return jar;
  }

  it('a request longer than the lease keeps the session: the other node waits for it', async () => {
    const jar = await browser();
    provider.mode = 'slow';
    const order: string[] = [];
    const started = Date.now();
    const slow = jar.json(executor(a), 'POST', { component: 'ak-stage-captcha', token: 'pass' }).then((r) => {
      order.push('slow');
      return r;
    });
    // well past the first lease: the hold was renewed in the meantime
    await sleep(LEASE_MS * 2);
    const held = await leaseOf(jar);
    assert.ok(held && Date.parse(held) > started + LEASE_MS, `the lease was renewed (${held})`);
    provider.mode = 'normal';
    const quick = jar.json(executor(b), 'POST', { component: 'ak-stage-captcha', token: 'pass' }).then((r) => {
      order.push('quick');
      return r;
    });
    const [s, q] = await Promise.all([slow, quick]);
    assert.deepEqual(order, ['slow', 'quick'], 'the second node ran the request only after the first ended');
    assert.match(s.body.response_errors.token[0].string, /did not answer in time/);
    assert.equal(q.body.component, 'xak-flow-redirect');
    assert.equal(await leaseOf(jar), null, 'nothing holds the session afterwards');
  });

  it('a hold left by a node that died ends with its lease: the next request takes the session', async () => {
    const jar = await browser();
    // what a node killed mid-request leaves: a hold nobody renews, set as a request sets it (now + the lease)
    const until = new Date(Date.now() + LEASE_MS).toISOString();
    await a.app.store.db
      .updateTable('sessions')
      .set({ lock_until: until })
      .where('session_key', '=', sessionKeyOf(jar.cookies.get('authentik_session')!))
      .execute();
    const r = await jar.json(executor(b), 'POST', { component: 'ak-stage-captcha', token: 'pass' });
    assert.equal(r.body.component, 'xak-flow-redirect');
  });

  it("a request whose hold was taken over meanwhile leaves the new holder's hold in place when it ends", async () => {
    const jar = await browser();
    provider.mode = 'slow';
    const slow = jar.json(executor(a), 'POST', { component: 'ak-stage-captcha', token: 'pass' });
    assert.ok(await leaseTaken(jar), 'the request holds the session');
    // what another request leaves when it took the session after this one's renewals had failed for a whole lease
    const foreign = new Date(Date.now() + 60_000).toISOString();
    const key = sessionKeyOf(jar.cookies.get('authentik_session')!);
    await a.app.store.db.updateTable('sessions').set({ lock_until: foreign }).where('session_key', '=', key).execute();
    const r = await slow;
    assert.match(r.body.response_errors.token[0].string, /did not answer in time/);
    assert.equal(await leaseOf(jar), foreign, 'the other hold is still there');
    await a.app.store.db.updateTable('sessions').set({ lock_until: null }).where('session_key', '=', key).execute();
    provider.mode = 'normal';
  });

  it('a request takes the session for one lease from now (a dead node frees it that soon)', async () => {
    const jar = await browser();
    provider.mode = 'slow';
    const before = Date.now();
    const slow = jar.json(executor(a), 'POST', { component: 'ak-stage-captcha', token: 'pass' });
    const held = await leaseTaken(jar);
    assert.ok(held, 'the request holds the session');
    assert.ok(Date.parse(held) <= Date.now() + LEASE_MS, `the hold ends within one lease (${held})`);
    assert.ok(Date.parse(held) >= before + LEASE_MS - 50, `the hold lasts a lease (${held})`);
    const r = await slow;
    assert.match(r.body.response_errors.token[0].string, /did not answer in time/);
    provider.mode = 'normal';
  });
});
