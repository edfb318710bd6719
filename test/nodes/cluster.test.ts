/**
 * Three Keystage processes on one PostgreSQL database behind a round-robin "load balancer" (this test): 200
 * concurrent logins spread step by step over the nodes, one node killed with SIGKILL mid-run; every login completes
 * (retrying a step elsewhere, or starting over), no session row is corrupted, throttling is shared, and SIGTERM lets
 * an in-flight request finish. Registered only with KEYSTAGE_TEST_DATABASE_URL.
 *
 * The balancer is a trusted proxy and names each browser's address in X-Forwarded-For, as a real one does: the
 * throttling counts pairs of account and address, and a check in flight counts until it ends (a node killed during
 * it leaves it counted), so ten people sharing one account and one address would throttle each other.
 */
import { it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { freshDatabase } from '../helpers/server.js';
import { api, startNode, type Node } from '../helpers/process.js';
import { FakeCaptcha } from '../helpers/fake-captcha.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { THROTTLED_MESSAGE } from '../../src/auth/lockout.js';
import { describePostgres } from '../helpers/postgres.js';

const LOGINS = 200;
const USERS = 20;
const FLOW = '/api/v3/flows/executor/default-authentication-flow/?query=';

/** a browser talking to one node at a time through the "load balancer" */
class Client extends CookieJar {
  /** one step against one node; follows 302s on the same node */
  async step(base: string, body?: unknown): Promise<any> {
    return (await this.json(`${base}${FLOW}`, body ? 'POST' : 'GET', body, AbortSignal.timeout(20_000))).body;
  }
}

describePostgres('three nodes on one PostgreSQL database', 'three processes share one PostgreSQL database', () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let nodes: Node[] = [];
  let provider: FakeCaptcha;
  before(async () => {
    db = await freshDatabase('postgres');
    const env = {
      KEYSTAGE_DATABASE_URL: db.overrides.databaseUrl!,
      KEYSTAGE_LOCKOUT_ACCOUNT_IP_LIMIT: '4',
      KEYSTAGE_LOCKOUT_SLOW_AFTER: '100',
      KEYSTAGE_CAPTCHA_TIMEOUT_MS: '1500',
      KEYSTAGE_TRUSTED_PROXIES: '127.0.0.1',
    };
    nodes = await Promise.all([startNode(env), startNode(env), startNode(env)]);
    provider = await new FakeCaptcha().start();
    for (let i = 0; i < USERS; i++) {
      const u = await api(nodes[i % 3]!, 'POST', '/core/users/', { username: `cluster-${i}`, name: 'c' });
      await api(nodes[i % 3]!, 'POST', `/core/users/${u.body.pk}/set_password/`, { password: `cluster-password-${i}` });
    }
  });
  after(async () => {
    for (const n of nodes) n.child.kill('SIGKILL');
    await provider?.close();
    await db?.drop();
  });

  it('200 concurrent logins across the nodes survive a SIGKILL of one of them', async (t) => {
    let rr = 0;
    let answered = 0;
    const dead = new Set<number>();
    /** round-robin over live nodes; a connection error marks the node dead and retries the step elsewhere */
    const balanced = async (c: Client, body?: unknown): Promise<any> => {
      for (let attempt = 0; attempt < 6; attempt++) {
        const i = rr++ % 3;
        if (dead.has(i)) continue;
        try {
          const r = await c.step(nodes[i]!.url, body);
          answered++;
          return r;
        } catch {
          dead.add(i);
        }
      }
      throw new Error('no node answered');
    };
    let completed = 0;
    let restarted = 0;
    const login = async (n: number) => {
      const user = n % USERS;
      const seen: string[] = [];
      for (let round = 0; round < 3; round++) {
        const c = new Client({ 'x-forwarded-for': `10.0.${n >> 8}.${n & 255}` });
        await balanced(c);
        const pw = await balanced(c, { component: 'ak-stage-identification', uid_field: `cluster-${user}` });
        const done =
          pw.component === 'ak-stage-password'
            ? await balanced(c, { component: 'ak-stage-password', password: `cluster-password-${user}` })
            : pw;
        if (done.component === 'xak-flow-redirect') {
          completed++;
          return;
        }
        seen.push(JSON.stringify(done).slice(0, 300));
        restarted++;
      }
      throw new Error(`login ${n} did not complete; it got: ${seen.join(' / ')}`);
    };
    const all = Promise.all(Array.from({ length: LOGINS }, (_, n) => login(n)));
    // kill a node mid-run: once a sixth of the requests are answered (the logins move in waves: counting finished
    // logins, the kill could come when the last wave's requests had all been answered, and nothing met the dead node)
    for (let waited = 0; answered < LOGINS / 2 && waited < 30_000; waited += 5) await new Promise((r) => setTimeout(r, 5));
    assert.ok(completed < LOGINS, 'the kill happens while logins are in flight');
    nodes[2]!.child.kill('SIGKILL');
    await all;
    assert.equal(completed, LOGINS);
    // no corrupted rows: every session parses and points at an existing user
    const client = new pg.Client({ connectionString: db.overrides.databaseUrl });
    await client.connect();
    try {
      const rows = (await client.query('select s.data, s.user_id, u.id as uid from sessions s left join users u on u.id = s.user_id'))
        .rows as { data: string; user_id: number | null; uid: number | null }[];
      for (const r of rows) {
        assert.doesNotThrow(() => JSON.parse(r.data));
        if (r.user_id !== null) assert.equal(r.uid, r.user_id);
      }
      const loggedIn = rows.filter((r) => r.user_id !== null).length;
      assert.ok(loggedIn >= LOGINS, `${loggedIn} logged-in sessions`);
    } finally {
      await client.end();
    }
    // the killed node's share was retried elsewhere
    assert.ok(dead.has(2));
    t.diagnostic(`${completed} logins completed, ${restarted} had to start over after the kill`);
  });

  it('throttling counts are shared by the nodes', async () => {
    const live = nodes.slice(0, 2);
    const from = { 'x-forwarded-for': '10.9.0.1' };
    for (let i = 0; i < 4; i++) {
      const c = new Client(from);
      const node = live[i % 2]!.url;
      await c.step(node);
      await c.step(node, { component: 'ak-stage-identification', uid_field: 'cluster-0' });
      const r = await c.step(node, { component: 'ak-stage-password', password: 'wrong' });
      assert.deepEqual(r.response_errors, { password: [{ string: 'Invalid password', code: 'invalid' }] });
    }
    const c = new Client(from);
    await c.step(live[1]!.url);
    await c.step(live[1]!.url, { component: 'ak-stage-identification', uid_field: 'cluster-0' });
    const refused = await c.step(live[0]!.url, { component: 'ak-stage-password', password: 'cluster-password-0' });
    assert.deepEqual(refused.response_errors, { password: [{ string: THROTTLED_MESSAGE, code: 'invalid' }] });
  });

  it('SIGTERM lets an in-flight request finish, then the process exits cleanly', async () => {
    const node = nodes[1]!;
    const captcha = await api(node, 'POST', '/stages/captcha/', {
      name: 'cluster-slow-captcha',
      public_key: 'k',
      private_key: 's',
      api_url: provider.siteverify(),
    });
    const flow = await api(node, 'POST', '/flows/instances/', { name: 's', slug: 'slow-flow', title: 's', designation: 'authentication' });
    await api(node, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: captcha.body.pk, order: 10 });
    provider.mode = 'slow';
    const url = `${node.url}/api/v3/flows/executor/slow-flow/?query=`;
    const first = await fetch(url);
    const cookie = first.headers
      .getSetCookie()
      .map((l) => l.split(';')[0])
      .join('; ');
    const inFlight = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ component: 'ak-stage-captcha', token: 'pass' }),
    });
    await new Promise((r) => setTimeout(r, 200));
    node.child.kill('SIGTERM');
    const res = await inFlight;
    assert.equal(res.status, 200);
    const body = (await res.json()) as { response_errors: { token: { string: string }[] } };
    assert.match(body.response_errors.token[0]!.string, /did not answer in time/);
    assert.equal(await node.exited, 0);
    provider.mode = 'normal';
  });
});
