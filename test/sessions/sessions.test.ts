/**
 * Security: session cookies and lifetimes — flags, rotation at login, Secure only behind a trusted TLS proxy,
 * idle and absolute limits, network binding, logout deleting the server-side session.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

async function rawLogin(srv: TestServer, headers: Record<string, string> = {}) {
  // identification → password → login, capturing the raw Set-Cookie lines of every answer
  const setCookies: string[] = [];
  const jar = new Map<string, string>();
  const url = `${srv.api}/flows/executor/default-authentication-flow/?query=`;
  const send = async (method: string, body?: unknown) => {
    let res = await fetch(url, {
      method,
      headers: { ...headers, 'content-type': 'application/json', cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
      body: body ? JSON.stringify(body) : undefined,
      redirect: 'manual',
    });
    for (;;) {
      for (const c of res.headers.getSetCookie()) {
        setCookies.push(c);
        const [pair] = c.split(';');
        const i = pair!.indexOf('=');
        jar.set(pair!.slice(0, i), pair!.slice(i + 1));
      }
      if (res.status !== 302) break;
      res = await fetch(new URL(res.headers.get('location')!, srv.url), {
        headers: { ...headers, cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') },
        redirect: 'manual',
      });
    }
    return res.json();
  };
  await send('GET');
  // (the page's GET stores nothing yet: the anonymous session starts with the first step)
  await send('POST', { component: 'ak-stage-identification', uid_field: 'akadmin' });
  const before = jar.get('authentik_session');
  const final = await send('POST', { component: 'ak-stage-password', password: 'correct horse battery staple' });
  return { setCookies, jar, before, after: jar.get('authentik_session'), final };
}

for (const dialect of dialects()) {
  describe(`security: sessions (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, { trustedProxies: '127.0.0.1', sessionIdleMs: 0 });
    });
    after(async () => srv.close());

    it('cookies are HttpOnly and SameSite=Lax, the session id changes at login and the anonymous row is gone', async () => {
      const r = await rawLogin(srv);
      assert.equal(r.final.component, 'xak-flow-redirect');
      const session = r.setCookies.filter((c) => c.startsWith('authentik_session='));
      assert.ok(session.length >= 2, 'a session cookie before and a new one at login');
      for (const c of session) {
        assert.match(c, /HttpOnly/i);
        assert.match(c, /SameSite=Lax/i);
        assert.doesNotMatch(c, /Secure/i, 'plain HTTP: not Secure');
      }
      assert.notEqual(r.before, r.after);
      const old = await srv.app.store.db
        .selectFrom('sessions')
        .select('session_key')
        .where('session_key', '=', sessionKeyOf(r.before!))
        .executeTakeFirst();
      assert.equal(old, undefined);
      const now = await srv.app.store.db
        .selectFrom('sessions')
        .select(['user_id'])
        .where('session_key', '=', sessionKeyOf(r.after!))
        .executeTakeFirstOrThrow();
      assert.equal(now.user_id, 1);
    });

    it('a login whose anonymous row ended meanwhile still stores the logged-in session, under a new key', async () => {
      const sessions = srv.app.services.sessions;
      const cookies = new Map<string, string>();
      const req = { ip: '127.0.0.1', headers: { 'user-agent': 'test' }, protocol: 'http', cookies: {} } as never;
      const reply = { setCookie: (name: string, value: string) => cookies.set(name, value) } as never;
      const s = await sessions.load(req);
      s.dirty = true;
      await sessions.save(s, req, reply);
      const anonymous = s.key!;
      // the anonymous row ends (logout elsewhere, expiry sweep) between this request's load and its save
      await srv.app.store.db.deleteFrom('sessions').where('session_key', '=', anonymous).execute();
      await sessions.login(s, 1, new Date(Date.now() + 3_600_000), undefined);
      await sessions.save(s, req, reply);
      assert.notEqual(s.key, anonymous);
      assert.equal(sessionKeyOf(cookies.get('authentik_session')!), s.key);
      const rows = await srv.app.store.db
        .selectFrom('sessions')
        .select(['session_key', 'user_id'])
        .where('session_key', 'in', [anonymous, s.key!])
        .execute();
      assert.deepEqual(rows, [{ session_key: s.key, user_id: 1 }]);
    });

    it('cookies are Secure behind a trusted TLS proxy, and X-Forwarded-Proto from others is ignored', async () => {
      const tls = await rawLogin(srv, { 'x-forwarded-proto': 'https' });
      assert.ok(tls.setCookies.filter((c) => c.startsWith('authentik_session=')).every((c) => /;\s*Secure/i.test(c)));
      const untrusted = await startServer(dialect, { trustedProxies: undefined });
      try {
        const r = await rawLogin(untrusted, { 'x-forwarded-proto': 'https' });
        assert.ok(r.setCookies.filter((c) => c.startsWith('authentik_session=')).every((c) => !/;\s*Secure/i.test(c)));
      } finally {
        await untrusted.close();
      }
    });

    it('logout deletes the server-side session', async () => {
      const c = new FlowClient(srv);
      await c.get();
      await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
      await c.post({ component: 'ak-stage-password', password: 'correct horse battery staple' });
      const key = sessionKeyOf(c.cookies.get('authentik_session')!);
      assert.equal((await c.api('GET', '/core/users/me/')).status, 200);
      const out = new FlowClient(srv, 'default-invalidation-flow');
      for (const [k, v] of c.cookies) out.cookies.set(k, v);
      const r = await out.get();
      assert.equal(r.body.component, 'xak-flow-redirect');
      assert.equal(
        await srv.app.store.db.selectFrom('sessions').select('session_key').where('session_key', '=', key).executeTakeFirst(),
        undefined,
      );
      assert.equal((await c.api('GET', '/core/users/me/')).status, 403);
    });

    it('an idle session ends, and no session outlives the absolute limit', async () => {
      const limited = await startServer(dialect, { sessionIdleMs: 60_000, sessionMaxAgeMs: 3_600_000 });
      try {
        const c = new FlowClient(limited);
        await c.get();
        await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
        await c.post({ component: 'ak-stage-password', password: 'correct horse battery staple' });
        const key = sessionKeyOf(c.cookies.get('authentik_session')!);
        const row = await limited.app.store.db
          .selectFrom('sessions')
          .select(['expires'])
          .where('session_key', '=', key)
          .executeTakeFirstOrThrow();
        assert.ok(new Date(row.expires).getTime() <= Date.now() + 3_600_000 + 1000, 'capped at the absolute limit');
        assert.equal((await c.api('GET', '/core/users/me/')).status, 200);
        // two minutes without a request
        await limited.app.store.db
          .updateTable('sessions')
          .set({ last_seen: new Date(Date.now() - 120_000).toISOString() })
          .where('session_key', '=', key)
          .execute();
        assert.equal((await c.api('GET', '/core/users/me/')).status, 403);
        assert.equal(
          await limited.app.store.db.selectFrom('sessions').select('session_key').where('session_key', '=', key).executeTakeFirst(),
          undefined,
        );
      } finally {
        await limited.close();
      }
    });

    it('network binding: a session bound to its IP is not accepted from another address', async () => {
      const login = (await call(srv, 'GET', '/stages/user_login/?name=default-authentication-login')).body.results[0];
      await call(srv, 'PATCH', `/stages/user_login/${login.pk}/`, { network_binding: 'bind_asn_network_ip' });
      try {
        const c = new FlowClient(srv, 'default-authentication-flow', { ip: '198.51.100.20' });
        await c.get();
        await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
        await c.post({ component: 'ak-stage-password', password: 'correct horse battery staple' });
        assert.equal((await c.api('GET', '/core/users/me/')).status, 200);
        const moved = new FlowClient(srv, 'default-authentication-flow', { ip: '203.0.113.50' });
        for (const [k, v] of c.cookies) moved.cookies.set(k, v);
        assert.equal((await moved.api('GET', '/core/users/me/')).status, 403);
        const logout = await srv.app.store.db
          .selectFrom('events')
          .selectAll()
          .where('action', '=', 'logout')
          .orderBy('created', 'desc')
          .executeTakeFirstOrThrow();
        assert.equal(logout.username, 'akadmin', 'the broken binding is recorded as a logout');
        assert.equal(logout.client_ip, '203.0.113.50');
        // authentik's logout event for a broken binding (without an ASN database: the address itself)
        const { logout_reason, binding, ip } = JSON.parse(logout.context);
        assert.deepEqual(
          { logout_reason, binding, ip },
          {
            logout_reason: 'Session binding broken',
            binding: { reason: 'network.ip', previous_value: '198.51.100.20', new_value: '203.0.113.50' },
            ip: { previous: '198.51.100.20', new: '203.0.113.50' },
          },
        );
        assert.equal((await c.api('GET', '/core/users/me/')).status, 403, 'the session is gone, also for its own network');

        // a page request from outside the binding is sent to log in again, and back afterwards (authentik L8)
        const d = new FlowClient(srv, 'default-authentication-flow', { ip: '198.51.100.21' });
        await d.get();
        await d.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
        await d.post({ component: 'ak-stage-password', password: 'correct horse battery staple' });
        const cookie = [...d.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
        const page = await fetch(`${srv.url}/if/user/`, { headers: { cookie, 'x-forwarded-for': '203.0.113.51' }, redirect: 'manual' });
        assert.equal(page.status, 302);
        assert.equal(page.headers.get('location'), '/flows/-/default/authentication/?next=%2Fif%2Fuser%2F');
        const fresh = await fetch(`${srv.url}/if/user/`, { headers: { 'x-forwarded-for': '203.0.113.51' }, redirect: 'manual' });
        assert.equal(fresh.status, 200, 'without a session the page is shown as usual');
      } finally {
        await call(srv, 'PATCH', `/stages/user_login/${login.pk}/`, { network_binding: 'no_binding' });
      }
    });
  });
}
