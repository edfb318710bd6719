/**
 * `/application/launch/{slug}/` (authentik's RedirectToAppLaunch) and the brand's `default_application` (authentik's
 * RootRedirectView / BrandDefaultRedirectView, ported from authentik's test_interface_redirects.py): users who are not
 * internal users are sent from `/` and `/if/user/` to the default application; internal users are not.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { CookieJar } from '../helpers/cookie-jar.js';
import { createUser } from '../helpers/flows.js';

for (const dialect of dialects()) {
  describe(`application launch and the brand's default application (${dialect})`, () => {
    let srv: TestServer;
    let wiki: string;

    before(async () => {
      srv = await startServer(dialect);
      const r = await call(srv, 'POST', '/core/applications/', {
        name: 'Wiki',
        slug: 'wiki',
        meta_launch_url: 'https://wiki.example/start',
      });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      wiki = r.body.pk;
      assert.equal((await call(srv, 'POST', '/core/applications/', { name: 'Bare', slug: 'bare' })).status, 201);
    });
    after(() => srv?.close());

    /** a logged-in session's cookie header for `username` */
    async function loginAs(username: string, password: string): Promise<string> {
      const c = new FlowClient(srv);
      await c.get();
      await c.post({ component: 'ak-stage-identification', uid_field: username });
      const done = (await c.post({ component: 'ak-stage-password', password })).body;
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      return [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    }
    const page = async (path: string, cookie?: string) => {
      const r = await fetch(`${srv.url}${path}`, { redirect: 'manual', headers: cookie ? { cookie } : {} });
      return { status: r.status, location: r.headers.get('location'), text: await r.text() };
    };
    const setType = async (username: string, type: string) => {
      const u = (await call(srv, 'GET', `/core/users/?username=${username}`)).body.results[0];
      assert.equal((await call(srv, 'PATCH', `/core/users/${u.pk}/`, { type })).status, 200);
    };
    const setDefaultApplication = async (pk: string | null) => {
      const b = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0];
      const r = await call(srv, 'PATCH', `/core/brands/${b.brand_uuid}/`, { default_application: pk });
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };

    it('launch: to the login and back when nobody is logged in; then to the launch URL; 404 for none', async () => {
      // nobody logged in: the login names the application, and comes back here
      const jar = new CookieJar();
      const anon = await fetch(`${srv.url}/application/launch/wiki/`, { redirect: 'manual' });
      jar.keep(anon);
      assert.equal(anon.status, 302);
      assert.equal(anon.headers.get('location'), '/if/flow/default-authentication-flow/?next=%2Fapplication%2Flaunch%2Fwiki%2F');
      const executor = `${srv.api}/flows/executor/default-authentication-flow/?query=${encodeURIComponent('next=/application/launch/wiki/')}`;
      const ch = (await jar.json(executor)).body;
      assert.equal(ch.component, 'ak-stage-identification');
      assert.equal(ch.application_pre, 'Wiki');
      await createUser(srv, 'lena', 'lena-password-1');
      await jar.json(executor, 'POST', { component: 'ak-stage-identification', uid_field: 'lena' });
      const back = (await jar.json(executor, 'POST', { component: 'ak-stage-password', password: 'lena-password-1' })).body;
      assert.deepEqual([back.component, back.to], ['xak-flow-redirect', '/application/launch/wiki/']);
      // an application that does not exist is not found, logged in or not
      assert.equal((await page('/application/launch/nothing-here/')).status, 404);
      const cookie = await loginAs('lena', 'lena-password-1');
      const ok = await page('/application/launch/wiki/', cookie);
      assert.equal(ok.status, 302);
      assert.equal(ok.location, 'https://wiki.example/start');
      assert.equal((await page('/application/launch/nothing-here/', cookie)).status, 404);
      const bare = await page('/application/launch/bare/', cookie);
      assert.equal(bare.status, 404);
      assert.match(bare.text, /no launch URL/);
    });

    it("launch: the application's policies decide", async () => {
      await createUser(srv, 'mo', 'mo-password-1');
      const cookie = await loginAs('mo', 'mo-password-1');
      const me = (await call(srv, 'GET', '/core/users/?username=lena')).body.results[0];
      // only lena may use the wiki
      const b = await call(srv, 'POST', '/policies/bindings/', { target: wiki, user: me.pk, order: 0 });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      try {
        const denied = await page('/application/launch/wiki/', cookie);
        assert.equal(denied.status, 403);
        assert.match(denied.text, /do not have access/);
        assert.equal(
          (await page('/application/launch/wiki/', await loginAs('lena', 'lena-password-1'))).location,
          'https://wiki.example/start',
        );
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${b.body.pk}/`);
      }
    });

    it('default application: external users and service accounts go there from / and /if/user/; internal users do not', async () => {
      await setDefaultApplication(wiki);
      await createUser(srv, 'ext', 'ext-password-1');
      await setType('ext', 'external');
      const ext = await loginAs('ext', 'ext-password-1');
      for (const path of ['/', '/if/user/']) {
        const r = await page(path, ext);
        assert.equal(r.status, 302, path);
        assert.equal(r.location, '/application/launch/wiki/', path);
      }
      await createUser(srv, 'svc', 'svc-password-1');
      await setType('svc', 'internal_service_account');
      assert.equal((await page('/if/user/', await loginAs('svc', 'svc-password-1'))).location, '/application/launch/wiki/');
      const internal = await loginAs('lena', 'lena-password-1');
      assert.equal((await page('/', internal)).location, '/if/user/');
      const own = await page('/if/user/', internal);
      assert.equal(own.status, 200);
      assert.match(own.text, /<ks-user-page/);
    });

    it('no default application: users who are not internal get no user interface', async () => {
      await setDefaultApplication(null);
      const ext = await loginAs('ext', 'ext-password-1');
      assert.equal((await page('/', ext)).location, '/if/user/');
      const r = await page('/if/user/', ext);
      assert.equal(r.status, 200);
      assert.match(r.text, /Interface can only be accessed by internal users\./);
      assert.doesNotMatch(r.text, /<ks-user-page/);
    });
  });
}
