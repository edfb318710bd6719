/**
 * What the request's brand decides, on requests whose Host names one of two brands: the flow page's title, favicon,
 * logo and custom CSS, the flow background, the TOTP issuer, the WebAuthn relying-party name, the flow a bare `/` or
 * `/if/flow/` lands on. The host counts as Keystage resolves it: the client's Host header, and X-Forwarded-Host only
 * from a proxy in KEYSTAGE_TRUSTED_PROXIES.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { HostSession, hostRequest } from './host.js';

const A = 'a.example';
const B = 'b.example';

for (const dialect of dialects()) {
  describe(`brands decide titles, issuers, pages and landing flows by host (${dialect})`, () => {
    let srv: TestServer;
    let totpFlow: string;
    let webauthnFlow: string;
    before(async () => {
      srv = await startServer(dialect);
      const s = await defaultStages(srv);
      const totp = await createStage(srv, '/stages/authenticator/totp/', { name: 'brand-totp', digits: 6 });
      const webauthn = await createStage(srv, '/stages/authenticator/webauthn/', { name: 'brand-webauthn' });
      totpFlow = await flowOf(srv, 'brand-totp-flow', [s.identification, s.password, totp, s.login]);
      webauthnFlow = await flowOf(srv, 'brand-webauthn-flow', [s.identification, s.password, webauthn, s.login]);
      await flowOf(srv, 'alpha-login', [s.identification, s.password, s.login], { title: 'Alpha sign-in' });
      const alphaLogin = (await call(srv, 'GET', '/flows/instances/alpha-login/')).body.pk;
      const a = await call(srv, 'POST', '/core/brands/', { domain: A, branding_title: 'Alpha Corp', flow_authentication: alphaLogin });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      const b = await call(srv, 'POST', '/core/brands/', {
        domain: B,
        branding_title: 'Beta Inc',
        branding_logo: 'https://cdn.b.example/logo.svg',
        branding_favicon: 'https://cdn.b.example/favicon.png',
        branding_default_flow_background: 'https://cdn.b.example/background.jpg',
        branding_custom_css: '.ks-card { border-color: "</style><script>alert(1)</script>"; }',
      });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      await createUser(srv, 'brand-user', 'brand-user-password-1');
    });
    after(async () => srv.close());

    async function login(host: string, slug: string) {
      const b = new HostSession(srv, { host });
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'brand-user' });
      return { b, ch: await b.solve(slug, { component: 'ak-stage-password', password: 'brand-user-password-1' }) };
    }

    it('the TOTP issuer is the title of the brand the request was made to', async () => {
      for (const [host, title] of [
        [A, 'Alpha Corp'],
        [`login.${B}:9000`, 'Beta Inc'],
        ['elsewhere.example', 'Keystage'],
      ] as const) {
        const { ch } = await login(host, totpFlow);
        assert.equal(ch.component, 'ak-stage-authenticator-totp', JSON.stringify(ch));
        const url = new URL(ch.config_url);
        assert.equal(url.searchParams.get('issuer'), title, host);
        assert.equal(url.host, 'totp');
        assert.equal(decodeURIComponent(url.pathname), `/${title}:brand-user`, `${host}: the label names the issuer too`);
      }
      // an admin enrolling a device for someone: the brand of the admin's request
      const user = (await call(srv, 'GET', '/core/users/?username=brand-user')).body.results[0].pk;
      const r = await hostRequest(
        srv,
        'POST',
        '/api/v3/authenticators/admin/totp/',
        { host: B, authorization: `Bearer ${srv.token}` },
        { name: 'Beta phone', user_pk: user },
      );
      assert.equal(r.status, 201, r.text);
      assert.equal(new URL(r.json.config_url).searchParams.get('issuer'), 'Beta Inc');
    });

    it('the WebAuthn relying-party name is the brand title (its ID the host)', async () => {
      for (const [host, title] of [
        [A, 'Alpha Corp'],
        [B, 'Beta Inc'],
      ] as const) {
        const { ch } = await login(host, webauthnFlow);
        assert.equal(ch.component, 'ak-stage-authenticator-webauthn', JSON.stringify(ch));
        assert.equal(ch.registration.rp.name, title);
        assert.equal(ch.registration.rp.id, host);
      }
    });

    it('the flow page: title, favicon, logo and custom CSS of the brand; the CSS cannot leave its <style>', async () => {
      const a = await hostRequest(srv, 'GET', '/if/flow/default-authentication-flow/', { host: A });
      assert.equal(a.status, 200);
      assert.match(a.text, /<title>Alpha Corp<\/title>/);
      assert.match(a.text, /<link rel="icon" href="\/static\/dist\/assets\/icons\/icon.png" \/>/);
      assert.match(a.text, /brand-title="Alpha Corp" brand-logo="\/static\/dist\/assets\/icons\/icon_left_brand.svg"/);
      assert.doesNotMatch(a.text, /<style/, 'no custom CSS, no <style>');
      const b = await hostRequest(srv, 'GET', '/if/flow/default-authentication-flow/', { host: B });
      assert.match(b.text, /<title>Beta Inc<\/title>/);
      assert.match(b.text, /<link rel="icon" href="https:\/\/cdn.b.example\/favicon.png" \/>/);
      assert.match(b.text, /brand-logo="https:\/\/cdn.b.example\/logo.svg"/);
      const style = /<style id="ks-brand-css">([\s\S]*?)<\/style>/.exec(b.text);
      assert.ok(style, 'the custom CSS is on the page');
      assert.equal(style[1], '.ks-card { border-color: "\\3c /style>\\3c script>alert(1)\\3c /script>"; }');
      assert.doesNotMatch(b.text, /<script>alert/);
      // the user page wears the brand too
      const user = await hostRequest(srv, 'GET', '/if/user/', { host: B });
      assert.match(user.text, /<title>Beta Inc<\/title>/);
      // the defaults the brand points at are served
      for (const path of ['/static/dist/assets/icons/icon_left_brand.svg', '/static/dist/assets/icons/icon.png']) {
        const r = await fetch(`${srv.url}${path}`);
        assert.equal(r.status, 200, path);
        assert.match(await r.text(), /^<svg/);
      }
    });

    it('flow_info: the flow’s own title; a flow without a background shows the brand’s default background', async () => {
      const a = await new HostSession(srv, { host: A }).get('default-authentication-flow');
      assert.equal(a.flow_info.title, 'Welcome to Keystage!');
      assert.equal(a.flow_info.background, '/static/dist/assets/images/flow_background.jpg');
      const b = await new HostSession(srv, { host: B }).get('default-authentication-flow');
      assert.equal(b.flow_info.background, 'https://cdn.b.example/background.jpg');
      // a flow's own background wins
      await call(srv, 'PATCH', '/flows/instances/alpha-login/', { background: 'https://own.example/bg.jpg' });
      const own = await new HostSession(srv, { host: B }).get('alpha-login');
      assert.equal(own.flow_info.background, 'https://own.example/bg.jpg');
      assert.equal(own.flow_info.title, 'Alpha sign-in');
    });

    it('a bare `/` or `/if/flow/` lands on the brand’s authentication flow, else the default one', async () => {
      const land = async (host: string, path: string) => {
        const first = await hostRequest(srv, 'GET', path, { host });
        assert.equal(first.status, 302, `${host}${path}`);
        assert.equal(first.headers.location, '/flows/-/default/authentication/');
        const second = await hostRequest(srv, 'GET', first.headers.location!, { host });
        assert.equal(second.status, 302);
        return second.headers.location;
      };
      assert.equal(await land(A, '/'), '/if/flow/alpha-login/');
      assert.equal(await land(`www.${A}`, '/if/flow/'), '/if/flow/alpha-login/');
      assert.equal(await land(B, '/'), '/if/flow/default-authentication-flow/');
      assert.equal(await land('elsewhere.example', '/'), '/if/flow/default-authentication-flow/');
      // the query is kept
      const q = await hostRequest(srv, 'GET', '/if/flow/?next=%2Fapp%2F', { host: A });
      assert.equal(q.headers.location, '/flows/-/default/authentication/?next=%2Fapp%2F');
      // someone logged in goes to the user interface
      const { b } = await login(A, 'alpha-login');
      const root = await hostRequest(srv, 'GET', '/', {
        host: A,
        cookie: [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
      });
      assert.equal(root.status, 302);
      assert.equal(root.headers.location, '/if/user/');
    });

    it("the user and admin pages wear the person's own theme (their groups' and their attributes' settings), else the brand's", async () => {
      const brandA = (await call(srv, 'GET', `/core/brands/?domain=${A}`)).body.results[0];
      const user = (await call(srv, 'GET', '/core/users/?username=brand-user')).body.results[0];
      const { b } = await login(A, 'alpha-login');
      const cookie = [...b.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
      const themeOf = async (path: string) => {
        const r = await hostRequest(srv, 'GET', path, { host: A, cookie });
        assert.equal(r.status, 200, `${path}: ${r.status} ${r.headers.location ?? ''}`);
        return /<html lang="en" data-theme="(\w+)">/.exec(r.text)?.[1];
      };
      const userSettings = async (settings: unknown) => {
        const r = await call(srv, 'PATCH', `/core/users/${user.pk}/`, { attributes: settings ? { settings } : {} });
        assert.equal(r.status, 200, JSON.stringify(r.body));
      };
      let group: string | undefined;
      try {
        assert.equal(
          (await call(srv, 'PATCH', `/core/brands/${brandA.brand_uuid}/`, { attributes: { settings: { theme: { base: 'light' } } } }))
            .status,
          200,
        );
        assert.equal(await themeOf('/if/user/'), 'light', "nobody's own setting: the brand's");
        await userSettings({ theme: { base: 'dark' } });
        assert.equal(await themeOf('/if/user/'), 'dark', 'the person’s own setting comes first');
        assert.equal(await themeOf('/if/flow/alpha-login/'), 'light', 'the flow pages wear the brand’s only');
        assert.equal((await call(srv, 'GET', `/core/users/${user.pk}/`)).body.attributes.settings.theme.base, 'dark');
        // a group's settings (here a superuser group, so the admin page opens) and the person's own over them
        await userSettings(undefined);
        const g = await call(srv, 'POST', '/core/groups/', {
          name: 'brand-dark-admins',
          is_superuser: true,
          users: [user.pk],
          attributes: { settings: { theme: { base: 'dark' } } },
        });
        assert.equal(g.status, 201, JSON.stringify(g.body));
        group = g.body.pk;
        assert.equal(await themeOf('/if/admin/'), 'dark');
        assert.equal(await themeOf('/if/user/'), 'dark');
        await userSettings({ theme: { base: 'automatic' } });
        assert.equal(await themeOf('/if/admin/'), 'automatic');
        // a value that names no theme is no setting: the person's own replaces the group's when merged, so the brand's
        await userSettings({ theme: { base: 'purple' } });
        assert.equal(await themeOf('/if/user/'), 'light');
      } finally {
        if (group) assert.equal((await call(srv, 'DELETE', `/core/groups/${group}/`)).status, 204);
        await userSettings(undefined);
        await call(srv, 'PATCH', `/core/brands/${brandA.brand_uuid}/`, { attributes: {} });
      }
    });

    it('X-Forwarded-Host from a peer that is not a trusted proxy changes nothing', async () => {
      const r = await hostRequest(srv, 'GET', '/api/v3/core/brands/current/', { host: 'elsewhere.example', 'x-forwarded-host': A });
      assert.equal(r.json.branding_title, 'Keystage');
      const page = await hostRequest(srv, 'GET', '/', { host: 'elsewhere.example', 'x-forwarded-host': A });
      const to = await hostRequest(srv, 'GET', page.headers.location!, { host: 'elsewhere.example', 'x-forwarded-host': A });
      assert.equal(to.headers.location, '/if/flow/default-authentication-flow/');
    });
  });
}

describe('brands behind a trusted proxy', () => {
  let srv: TestServer;
  before(async () => {
    srv = await startServer('sqlite', { trustedProxies: '127.0.0.1' });
    await call(srv, 'POST', '/core/brands/', { domain: A, branding_title: 'Alpha Corp' });
  });
  after(async () => srv.close());

  it('X-Forwarded-Host from KEYSTAGE_TRUSTED_PROXIES picks the brand', async () => {
    const r = await hostRequest(srv, 'GET', '/api/v3/core/brands/current/', { host: 'internal:9000', 'x-forwarded-host': A });
    assert.equal(r.json.branding_title, 'Alpha Corp');
    const direct = await hostRequest(srv, 'GET', '/api/v3/core/brands/current/', { host: 'internal:9000' });
    assert.equal(direct.json.branding_title, 'Keystage');
  });
});
