/**
 * /core/authenticated_sessions/ through the official client and raw HTTP: a person lists their own logged-in
 * sessions (the current one marked, the browser parsed), never another's, and ends one — that browser is logged
 * out; a superuser sees and ends anyone's, also in bulk; the session key is never shown.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createUser, sessionRow } from '../helpers/flows.js';

const LOGIN = 'default-authentication-flow';
const CHROME = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1';

for (const dialect of dialects()) {
  describe(`authenticated sessions API (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
      await createUser(srv, 'sess-alice', 'alice-password-1');
      await createUser(srv, 'sess-bob', 'bob-password-1');
    });
    after(async () => srv.close());

    async function loggedIn(username: string, password: string, ua: string): Promise<Browser> {
      const b = new Browser(srv.api, { headers: { 'user-agent': ua } });
      await b.get(LOGIN);
      await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: username });
      assert.equal((await b.solve(LOGIN, { component: 'ak-stage-password', password })).body.component, 'xak-flow-redirect');
      return b;
    }
    const csrf = (b: Browser) => ({ 'x-authentik-csrf': b.jar.cookies.get('authentik_csrf') ?? '' });

    it('lists my sessions only, the current one marked; I end another one and that browser is logged out', async () => {
      const laptop = await loggedIn('sess-alice', 'alice-password-1', CHROME);
      const phone = await loggedIn('sess-alice', 'alice-password-1', IPHONE);
      const bob = await loggedIn('sess-bob', 'bob-password-1', CHROME);

      const list = await laptop.core.coreAuthenticatedSessionsList({});
      assert.equal(list.results.length, 2);
      const mine = list.results.find((s) => s.current)!;
      const other = list.results.find((s) => !s.current)!;
      assert.ok(mine && other);
      assert.equal(mine.userAgent.userAgent.family, 'Chrome');
      assert.equal(mine.userAgent.os.family, 'Linux');
      assert.equal(other.userAgent.userAgent.family, 'Mobile Safari');
      assert.equal(other.userAgent.os.family, 'iOS');
      assert.equal(other.userAgent.device.family, 'iPhone');
      assert.equal(other.lastIp, '127.0.0.1');
      assert.equal(other.geoIp, null);
      const raw = await laptop.fetch('/core/authenticated_sessions/');
      assert.ok(!JSON.stringify(raw.body).includes(laptop.session!), 'the session key is never shown');
      assert.ok(!('session_key' in raw.body.results[0]));

      // bob's session is not mine to see or end
      const bobs = await bob.core.coreAuthenticatedSessionsList({});
      assert.equal(bobs.results.length, 1);
      assert.equal((await laptop.fetch(`/core/authenticated_sessions/${bobs.results[0]!.uuid}/`)).status, 404);
      const refused = await laptop.fetch(`/core/authenticated_sessions/${bobs.results[0]!.uuid}/`, {
        method: 'DELETE',
        headers: csrf(laptop),
      });
      assert.equal(refused.status, 404);
      assert.equal((await bob.me()).status, 200);

      // a session-authenticated DELETE needs the CSRF token
      const noCsrf = await fetch(`${srv.api}/core/authenticated_sessions/${other.uuid}/`, {
        method: 'DELETE',
        headers: { cookie: `authentik_session=${laptop.session}` },
      });
      assert.equal(noCsrf.status, 403);
      const ended = await laptop.fetch(`/core/authenticated_sessions/${other.uuid}/`, { method: 'DELETE', headers: csrf(laptop) });
      assert.equal(ended.status, 204);
      assert.equal((await phone.me()).status, 403, 'the phone is logged out');
      assert.equal(await sessionRow(srv, phone.session), undefined);
      assert.equal((await laptop.me()).status, 200, 'this browser stays');
      assert.equal((await laptop.core.coreAuthenticatedSessionsList({})).results.length, 1);
    });

    it('anonymous callers get 403; a superuser sees everyone and ends sessions in bulk', async () => {
      assert.equal((await new Browser(srv.api).fetch('/core/authenticated_sessions/')).status, 403);
      const carol = await createUser(srv, 'sess-carol', 'carol-password-1');
      const c1 = await loggedIn('sess-carol', 'carol-password-1', CHROME);
      const c2 = await loggedIn('sess-carol', 'carol-password-1', IPHONE);
      const all = await call(srv, 'GET', '/core/authenticated_sessions/?user__username=sess-carol');
      assert.equal(all.status, 200);
      assert.equal(all.body.results.length, 2);
      assert.equal(all.body.results[0].user, carol);
      assert.equal(all.body.results[0].current, false, 'a token caller has no current session');
      const search = await call(srv, 'GET', '/core/authenticated_sessions/?search=iPhone');
      assert.ok(search.body.results.every((s: { last_user_agent: string }) => s.last_user_agent.includes('iPhone')));

      // bulk_delete is for superusers
      const byUser = await c1.fetch(`/core/authenticated_sessions/bulk_delete/?user_pks=${carol}`, { method: 'DELETE', headers: csrf(c1) });
      assert.equal(byUser.status, 403);
      assert.equal((await call(srv, 'DELETE', '/core/authenticated_sessions/bulk_delete/')).status, 400);
      const bulk = await call(srv, 'DELETE', `/core/authenticated_sessions/bulk_delete/?user_pks=${carol}`);
      assert.equal(bulk.status, 200);
      assert.deepEqual(bulk.body, { deleted: 2 });
      assert.equal((await c1.me()).status, 403);
      assert.equal((await c2.me()).status, 403);
    });
  });
}
