/**
 * CSRF for session-authenticated requests: unsafe API calls must echo the `authentik_csrf` cookie in
 * `X-authentik-CSRF` (403 otherwise), the executor answers a logged-in POST without it with a flow error, and the
 * token changes at login. Bearer tokens and anonymous executor requests are not CSRF-checked.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { sessionRow } from '../helpers/flows.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`flow CSRF (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    async function loggedIn() {
      const b = new Browser(srv.api);
      await b.get(FLOW);
      const anonymousCsrf = b.jar.cookies.get('authentik_csrf');
      await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' });
      assert.equal((await b.solve(FLOW, { component: 'ak-stage-password', password: ADMIN_PASSWORD })).body.component, 'xak-flow-redirect');
      return { b, anonymousCsrf: anonymousCsrf! };
    }

    /** a request carrying only the session cookie, plus `headers` */
    const bare = (b: Browser, method: string, path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${srv.api}${path}`, {
        method,
        headers: { cookie: `authentik_session=${b.session}`, 'content-type': 'application/json', ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });

    it('a logged-in session POSTing to the API without X-authentik-CSRF gets 403 "CSRF token missing."', async () => {
      const { b, anonymousCsrf } = await loggedIn();
      const csrf = b.jar.cookies.get('authentik_csrf')!;
      assert.notEqual(csrf, anonymousCsrf, 'login rotates the CSRF token');
      assert.equal((await sessionRow(srv, b.session))?.data.csrf, csrf);

      const missing = await bare(b, 'POST', '/core/users/', { username: 'csrf-victim', name: 'x' });
      assert.equal(missing.status, 403);
      assert.deepEqual(await missing.json(), { detail: 'CSRF Failed: CSRF token missing.' });
      const wrong = await bare(b, 'POST', '/core/users/', { username: 'csrf-victim', name: 'x' }, { 'x-authentik-csrf': anonymousCsrf });
      assert.equal(wrong.status, 403);
      assert.deepEqual(await wrong.json(), { detail: 'CSRF Failed: CSRF token incorrect.' }, 'the pre-login token is dead');
      for (const method of ['PATCH', 'PUT', 'DELETE']) assert.equal((await bare(b, method, '/core/users/1/', {})).status, 403, method);
      const none = await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'csrf-victim').execute();
      assert.equal(none.length, 0, 'nothing was created');

      // safe methods need no token; the web UI's header makes the write pass
      assert.equal((await bare(b, 'GET', '/core/users/me/', undefined)).status, 200);
      const created = await b.core.coreUsersCreateRaw({ userRequest: { username: 'csrf-ok', name: 'CSRF OK' } });
      assert.equal(created.raw.status, 201);
      assert.equal((await srv.app.store.db.selectFrom('users').select('id').where('username', '=', 'csrf-ok').execute()).length, 1);
    });

    it('a bearer token needs no CSRF header, even with a session cookie alongside', async () => {
      const { b } = await loggedIn();
      const r = await call(srv, 'POST', '/core/users/', { username: 'by-token', name: 'T' }, { cookie: `authentik_session=${b.session}` });
      assert.equal(r.status, 201);
    });

    it('the executor: a logged-in POST without the header is a flow error and changes nothing; anonymous POSTs need none', async () => {
      const { b } = await loggedIn();
      await b.get(FLOW); // a new plan for the logged-in session
      const before = (await sessionRow(srv, b.session))?.data.plan;
      const r = await bare(b, 'POST', `/flows/executor/${FLOW}/?query=`, { component: 'ak-stage-identification', uid_field: 'akadmin' });
      assert.equal(r.status, 200);
      const body = (await r.json()) as Record<string, unknown>;
      assert.equal(body.component, 'ak-stage-flow-error');
      assert.deepEqual((await sessionRow(srv, b.session))?.data.plan, before, 'the plan did not move');
      // with the header (as the official client sends it here) it proceeds
      assert.equal(
        (await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' })).body.component,
        'ak-stage-password',
      );

      const anon = await fetch(`${srv.api}/flows/executor/${FLOW}/?query=`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ component: 'ak-stage-identification', uid_field: 'akadmin' }),
        redirect: 'manual',
      });
      assert.equal(anon.status, 302, 'no CSRF check for anonymous sessions');
    });
  });
}
