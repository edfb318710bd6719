/**
 * Keystage's own page takes a shorter path through the executor: its first challenge comes inside the HTML of
 * /if/flow/<slug>/, and its POSTs carry `X-Keystage-Inline: 1`, answered with the next challenge instead of a 302 to
 * a GET. Each scenario here runs twice on one server — through authentik's protocol (GET, POST → 302 → GET) and
 * through the page's path — and both runs must show the same challenges and errors, leave the same plans in the
 * session, set the same cookies and record the same events.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, startServer, type TestServer } from '../helpers/server.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { FakeCaptcha } from '../helpers/fake-captcha.js';
import { bindingOf, createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { call } from '../helpers/server.js';
import { addTotpDevice } from '../helpers/devices.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

type Body = Record<string, unknown>;

/** what one step of a run shows and leaves behind, in terms both paths must agree on */
interface Step {
  body: Body;
  /** the session row's data (the plan, its context, the flow query), without the random CSRF token */
  session: unknown;
  /** whether the session is logged in, and whether this step gave it a new key */
  userId: number | null | undefined;
  newKey: boolean;
  /** the Set-Cookie headers of this step, values left out */
  setCookies: string[];
}

/** one exchange: `hops` are the statuses seen, `setCookies` every Set-Cookie on the way */
async function exchange(jar: CookieJar, url: string, init: { method: string; body?: Body; headers?: Record<string, string> }) {
  const headers = { accept: 'application/json', ...(init.body ? { 'content-type': 'application/json' } : {}), ...init.headers };
  let res = await fetch(url, {
    method: init.method,
    headers: jar.headers(headers),
    body: init.body ? JSON.stringify(init.body) : undefined,
    redirect: 'manual',
  });
  const hops = [res.status];
  const setCookies = [...res.headers.getSetCookie()];
  jar.keep(res);
  while (res.status === 302) {
    res = await fetch(new URL(res.headers.get('location')!, url), {
      headers: jar.headers({ accept: 'application/json' }),
      redirect: 'manual',
    });
    hops.push(res.status);
    setCookies.push(...res.headers.getSetCookie());
    jar.keep(res);
  }
  return { res, hops, setCookies };
}

/** a Set-Cookie without what differs by nature: its value and the second its expiry was computed in */
const withoutValue = (setCookie: string) => setCookie.replace(/^([^=]+)=[^;]*/, '$1=…').replace(/Expires=[^;]*/i, 'Expires=…');

/**
 * what differs between two runs by nature — times (a captcha answer's `challenge_ts`) and random WebAuthn challenges —
 * is compared as present, not by value
 */
const ISO_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;
const RANDOM_KEYS = new Set(['challenge', 'webauthnChallenge']);
const stable = (v: unknown, key = ''): unknown => {
  if (typeof v === 'string') return ISO_TIME.test(v) ? '<time>' : RANDOM_KEYS.has(key) ? '<random>' : v;
  if (Array.isArray(v)) return v.map((x) => stable(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stable(x, k)]));
  return v;
};

/** request ids differ from request to request */
const withoutRequestId = (body: Body): Body => {
  const { request_id: _r, ...rest } = body;
  return rest;
};

for (const dialect of dialects()) {
  describe(`the page's short path gives what authentik's protocol gives (${dialect})`, () => {
    let srv: TestServer;
    let captcha: FakeCaptcha;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      srv = await startServer(dialect);
      captcha = await new FakeCaptcha().start();
      stages = await defaultStages(srv);
    });
    after(async () => {
      await srv?.close();
      await captcha?.close();
    });

    async function sessionOf(jar: CookieJar) {
      const key = jar.cookies.get('authentik_session');
      if (!key) return { key, userId: undefined, data: undefined };
      const row = await srv.app.store.db.selectFrom('sessions').selectAll().where('session_key', '=', sessionKeyOf(key)).executeTakeFirst();
      if (!row) return { key, userId: undefined, data: undefined };
      const { csrf: _c, ...data } = JSON.parse(row.data) as Record<string, unknown>;
      return { key, userId: row.user_id, data };
    }

    async function record(jar: CookieJar, before: string | undefined, body: Body, setCookies: string[]): Promise<Step> {
      const s = await sessionOf(jar);
      return {
        body: stable(withoutRequestId(body)) as Body,
        session: stable(s.data),
        userId: s.userId,
        newKey: s.key !== before,
        setCookies: setCookies.map(withoutValue),
      };
    }

    /** the events recorded since `since` (their count), without what differs by nature: ids and times */
    async function eventsSince(since: number) {
      const rows = await srv.app.store.db.selectFrom('events').selectAll().orderBy('created').execute();
      return rows
        .slice(since)
        .map((e) => ({ action: e.action, app: e.app, user: e.user, username: e.username, context: e.context, ip: e.client_ip }));
    }
    const eventCount = async () => (await srv.app.store.db.selectFrom('events').select('event_uuid').execute()).length;

    /** authentik's protocol: the executor GET, then each POST with its 302 followed by a GET (as fetch does) */
    async function protocolRun(slug: string, query: string, posts: (Body | (() => Promise<Body>))[]) {
      const jar = new CookieJar();
      const url = `${srv.api}/flows/executor/${slug}/?query=${encodeURIComponent(query)}`;
      const since = await eventCount();
      const first = await exchange(jar, url, { method: 'GET' });
      const steps = [await record(jar, undefined, (await first.res.json()) as Body, first.setCookies)];
      const hops: number[][] = [first.hops];
      for (const post of posts) {
        const before = jar.cookies.get('authentik_session');
        const r = await exchange(jar, url, { method: 'POST', body: typeof post === 'function' ? await post() : post });
        hops.push(r.hops);
        steps.push(await record(jar, before, (await r.res.json()) as Body, r.setCookies));
      }
      return { steps, hops, events: await eventsSince(since) };
    }

    /** the page's path: the challenge inside /if/flow/<slug>/, then each POST with X-Keystage-Inline: 1 */
    async function pageRun(slug: string, query: string, posts: (Body | (() => Promise<Body>))[]) {
      const jar = new CookieJar();
      const url = `${srv.api}/flows/executor/${slug}/?query=${encodeURIComponent(query)}`;
      const since = await eventCount();
      const page = await exchange(jar, `${srv.url}/if/flow/${slug}/${query ? `?${query}` : ''}`, {
        method: 'GET',
        headers: { accept: 'text/html' },
      });
      const html = await page.res.text();
      const m = /<script type="application\/json" id="ks-first-challenge">(.*?)<\/script>/s.exec(html);
      assert.ok(m, 'the page carries its first challenge');
      const steps = [await record(jar, undefined, JSON.parse(m[1]!) as Body, page.setCookies)];
      const hops: number[][] = [page.hops];
      for (const post of posts) {
        const before = jar.cookies.get('authentik_session');
        const body = typeof post === 'function' ? await post() : post;
        const r = await exchange(jar, url, { method: 'POST', body, headers: { 'x-keystage-inline': '1' } });
        hops.push(r.hops);
        steps.push(await record(jar, before, (await r.res.json()) as Body, r.setCookies));
      }
      return { steps, hops, events: await eventsSince(since) };
    }

    /** what a run leaves for the next login of the same person from the same place: failure counts, known addresses */
    async function forgetLogins() {
      await srv.app.store.db.deleteFrom('login_ips').execute();
      await srv.app.store.db.deleteFrom('auth_failures').execute();
    }

    /**
     * runs a scenario both ways (`reset` between them puts back what a run uses up, such as a TOTP code) and compares
     * them step by step; returns the protocol run for the scenario's own assertions
     */
    async function both(slug: string, query: string, posts: (Body | (() => Promise<Body>))[], reset: () => Promise<void> = async () => {}) {
      const protocol = await protocolRun(slug, query, posts);
      await forgetLogins();
      await reset();
      const page = await pageRun(slug, query, posts);
      assert.equal(page.steps.length, protocol.steps.length);
      for (let i = 0; i < protocol.steps.length; i++) assert.deepEqual(page.steps[i], protocol.steps[i], `step ${i}`);
      assert.deepEqual(page.events, protocol.events, 'the same events');
      assert.ok(
        page.hops.every((h) => h.length === 1 && h[0] === 200),
        `the page's path has no redirects: ${JSON.stringify(page.hops)}`,
      );
      return protocol;
    }

    it('a password login ending in the redirect to `next`', async () => {
      await createUser(srv, 'paula', 'paula-password-1');
      const run = await both('default-authentication-flow', 'next=%2Fif%2Fuser%2F', [
        { component: 'ak-stage-identification', uid_field: 'paula' },
        { component: 'ak-stage-password', password: 'paula-password-1' },
      ]);
      assert.deepEqual(
        run.steps.map((s) => s.body.component),
        ['ak-stage-identification', 'ak-stage-password', 'xak-flow-redirect'],
      );
      assert.deepEqual(run.steps[2]!.body, { component: 'xak-flow-redirect', to: '/if/user/', final_redirect: true });
      assert.deepEqual(run.hops, [[200], [302, 200], [302, 200]], 'authentik protocol: a passed stage is a 302 to a GET');
      assert.equal(run.steps[2]!.newKey, true, 'the login gives the session a new key');
      assert.ok(run.steps[2]!.userId);
      assert.deepEqual(
        run.events.map((e) => e.action),
        ['login'],
      );
    });

    it('a wrong password, then the right one', async () => {
      await createUser(srv, 'quinn', 'quinn-password-1');
      const run = await both('default-authentication-flow', '', [
        { component: 'ak-stage-identification', uid_field: 'quinn' },
        { component: 'ak-stage-password', password: 'not-the-password' },
        { component: 'ak-stage-password', password: 'quinn-password-1' },
      ]);
      assert.equal(run.steps[2]!.body.component, 'ak-stage-password');
      assert.ok(run.steps[2]!.body.response_errors, 'the wrong password is answered with errors');
      assert.deepEqual(
        run.events.map((e) => e.action),
        ['login_failed', 'login'],
      );
    });

    it('a wrong password where the binding restarts the flow (the restart is a 302 the page path follows)', async () => {
      await createUser(srv, 'rhea', 'rhea-password-1');
      const password = await createStage(srv, '/stages/password/', {
        name: 'page-path-restart-password',
        backends: ['authentik.core.auth.InbuiltBackend'],
      });
      const slug = await flowOf(srv, 'page-path-restart', [stages.identification, password, stages.login]);
      const binding = await bindingOf(srv, slug, password);
      assert.equal((await call(srv, 'PATCH', `/flows/bindings/${binding}/`, { invalid_response_action: 'restart' })).status, 200);
      const run = await both(slug, '', [
        { component: 'ak-stage-identification', uid_field: 'rhea' },
        { component: 'ak-stage-password', password: 'not-the-password' },
      ]);
      assert.equal(run.steps[2]!.body.component, 'ak-stage-identification');
      assert.deepEqual(run.hops[2], [302, 200]);
    });

    it('password + TOTP, a wrong code first', async () => {
      const id = await createUser(srv, 'sven', 'sven-password-1');
      const { key } = await addTotpDevice(srv.app.store.db, id);
      const code = () => totpAt(key, currentStep({ t0: 0, step: 30 }), 6);
      const run = await both(
        'default-authentication-flow',
        '',
        [
          { component: 'ak-stage-identification', uid_field: 'sven' },
          { component: 'ak-stage-password', password: 'sven-password-1' },
          async () => ({ component: 'ak-stage-authenticator-validate', code: code() === '000000' ? '111111' : '000000' }),
          // a failed code throttles the device for 1 s (totp_otp_throttling_factor 1)
          async () => {
            await new Promise((r) => setTimeout(r, 1100));
            return { component: 'ak-stage-authenticator-validate', code: code() };
          },
        ],
        // the second run is the same person on a fresh device state: the code the first used is not refused as replayed
        async () => {
          await srv.app.store.db
            .updateTable('totp_devices')
            .set({ last_t: -1, last_used: null, throttling_failure_timestamp: null, throttling_failure_count: 0 } as never)
            .where('user_id', '=', id)
            .execute();
        },
      );
      assert.deepEqual(
        run.steps.map((s) => s.body.component),
        [
          'ak-stage-identification',
          'ak-stage-password',
          'ak-stage-authenticator-validate',
          'ak-stage-authenticator-validate',
          'xak-flow-redirect',
        ],
      );
      assert.ok(run.steps[3]!.body.response_errors);
      assert.deepEqual(
        run.events.map((e) => e.action),
        ['login_failed', 'login'],
      );
    });

    it('identification with an embedded password and a captcha: a failed captcha, an unknown user, then a login', async () => {
      await createUser(srv, 'tara', 'tara-password-1');
      const captchaStage = await createStage(srv, '/stages/captcha/', {
        name: 'page-path-captcha',
        public_key: 'site-turnstile',
        private_key: 'secret-turnstile',
        js_url: captcha.script('turnstile'),
        api_url: captcha.siteverify(),
        interactive: false,
      });
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'page-path-identification',
        user_fields: ['username'],
        password_stage: stages.password,
        captcha_stage: captchaStage,
      });
      const slug = await flowOf(srv, 'page-path-captcha', [ident, stages.login]);
      const run = await both(slug, '', [
        { component: 'ak-stage-identification', uid_field: 'tara', password: 'tara-password-1', captcha_token: 'fail' },
        { component: 'ak-stage-identification', uid_field: 'nobody-here', password: 'x', captcha_token: 'pass' },
        { component: 'ak-stage-identification', uid_field: 'tara', password: 'tara-password-1', captcha_token: 'pass' },
      ]);
      assert.ok(run.steps[1]!.body.response_errors, 'the failed captcha');
      assert.ok(run.steps[2]!.body.response_errors, 'the unknown user');
      assert.equal(run.steps[3]!.body.component, 'xak-flow-redirect');
    });

    it('a login followed by a stage that denies: the page path sees the freshly logged-in session as the GET would', async () => {
      await createUser(srv, 'uma', 'uma-password-1');
      const deny = await createStage(srv, '/stages/deny/', { name: 'page-path-deny', deny_message: 'Not today.' });
      const slug = await flowOf(srv, 'page-path-deny', [stages.identification, stages.password, stages.login, deny]);
      const run = await both(slug, '', [
        { component: 'ak-stage-identification', uid_field: 'uma' },
        { component: 'ak-stage-password', password: 'uma-password-1' },
      ]);
      assert.equal(run.steps[2]!.body.component, 'ak-stage-access-denied');
      assert.equal(run.steps[2]!.body.error_message, 'Not today.');
      assert.ok(run.steps[2]!.userId, 'logged in before the denial');
    });

    it('a passkey challenge on the first stage: the page response sets the session cookies the GET would set', async () => {
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'page-path-passkey',
        user_fields: ['username'],
        webauthn_stage: stages.mfa,
      });
      const slug = await flowOf(srv, 'page-path-passkey', [ident, stages.password, stages.login]);
      const run = await both(slug, '', []);
      assert.ok(run.steps[0]!.body.passkey_challenge, 'the first challenge carries a passkey challenge');
      assert.deepEqual(
        run.steps[0]!.setCookies.map((c) => c.split('=')[0]),
        ['authentik_session', 'authentik_csrf'],
        'the challenge is remembered in a new session',
      );
    });

    it('an unknown slug: a 404 page (authentik’s FlowInterfaceView) carrying the not-found challenge; no cookie', async () => {
      const res = await fetch(`${srv.url}/if/flow/no-such-flow/`);
      assert.equal(res.status, 404);
      assert.deepEqual(res.headers.getSetCookie(), []);
      const html = await res.text();
      assert.match(html, /"error_message":"This flow does not exist."/);
    });
  });
}

describe('the embedded challenge is data, never markup or script', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer('sqlite');
  });
  after(async () => srv?.close());

  it('a `</script>` in the flow title stays inside the JSON; the CSP is unchanged', async () => {
    const title = '</script><script>alert(1)</script><!--';
    await flowOf(srv, 'page-path-xss', [await createStage(srv, '/stages/dummy/', { name: 'page-path-xss' })], { title });
    const res = await fetch(`${srv.url}/if/flow/page-path-xss/`);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
    const html = await res.text();
    assert.equal(html.includes('<script>alert(1)'), false);
    const m = /<script type="application\/json" id="ks-first-challenge">(.*?)<\/script>/s.exec(html);
    assert.ok(m);
    assert.equal(m[1]!.includes('<'), false, 'no `<` inside the element');
    assert.equal((JSON.parse(m[1]!) as { flow_info: { title: string } }).flow_info.title, title);
  });
});
