/**
 * /core/brands/ through the official client (`@goauthentik/api` CoreApi) and raw HTTP: the default brand a fresh
 * install has, every operation, authentik's fields and defaults, its validation as 400s with field errors (never a
 * 500), the filters and search, and /core/brands/current/ for anyone. Ports authentik's brands/tests/test_brands.py
 * (current brand, fallback, subdomains, one default).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Brand } from '@goauthentik/api';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body, clients, failure } from '../rest/contract/client.js';
import { createUser } from '../helpers/flows.js';
import { hostRequest } from './host.js';
import { loadConfig } from '../../src/config.js';

const MISSING = '00000000-0000-4000-8000-000000000000';

const flowUuid = async (srv: TestServer, slug: string): Promise<string> => (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;

for (const dialect of dialects()) {
  describe(`brands API (${dialect})`, () => {
    let srv: TestServer;
    let api: ReturnType<typeof clients>;
    before(async () => {
      srv = await startServer(dialect);
      api = clients(srv);
    });
    after(async () => srv.close());

    it('a fresh install has one default brand titled Keystage, pointed at the default flows', async () => {
      const list = await call(srv, 'GET', '/core/brands/');
      assert.equal(list.status, 200);
      assertMatches('PaginatedBrandList', list.body);
      assert.equal(list.body.pagination.count, 1);
      const [b] = list.body.results;
      assert.equal(b.domain, 'authentik-default');
      assert.equal(b.default, true);
      assert.equal(b.branding_title, 'Keystage');
      assert.equal(b.branding_logo, '/static/dist/assets/icons/icon_left_brand.svg');
      assert.equal(b.branding_favicon, '/static/dist/assets/icons/icon.png');
      assert.equal(b.branding_default_flow_background, '/static/dist/assets/images/flow_background.jpg');
      assert.equal(b.branding_custom_css, '');
      assert.equal(b.flow_authentication, await flowUuid(srv, 'default-authentication-flow'));
      assert.equal(b.flow_invalidation, await flowUuid(srv, 'default-invalidation-flow'));
      assert.equal(b.flow_recovery, await flowUuid(srv, 'default-recovery-flow'));
      assert.equal(b.flow_unenrollment, await flowUuid(srv, 'default-unenrollment-flow'));
      assert.equal(b.flow_user_settings, await flowUuid(srv, 'default-user-settings-flow'));
      assert.deepEqual(b.client_certificates, []);
      assert.deepEqual(b.attributes, {});

      // anyone may read the current brand (authentik: AllowAny); unset flows are left out
      const cur = await fetch(`${srv.api}/core/brands/current/`);
      assert.equal(cur.status, 200);
      const current = await cur.json();
      assertMatches('CurrentBrand', current);
      assert.deepEqual(current, {
        matched_domain: 'authentik-default',
        branding_title: 'Keystage',
        branding_logo: '/static/dist/assets/icons/icon_left_brand.svg',
        branding_logo_themed_urls: null,
        branding_favicon: '/static/dist/assets/icons/icon.png',
        branding_favicon_themed_urls: null,
        branding_custom_css: '',
        branding_map_tiles: '',
        ui_footer_links: [],
        ui_theme: 'automatic',
        flow_authentication: 'default-authentication-flow',
        flow_invalidation: 'default-invalidation-flow',
        flow_recovery: 'default-recovery-flow',
        flow_unenrollment: 'default-unenrollment-flow',
        flow_user_settings: 'default-user-settings-flow',
        default_locale: '',
        flags: { flows_continuous_login: false, flows_refresh_others: false },
      });
      // the seeded flow speaks for Keystage on a new install
      assert.equal((await call(srv, 'GET', '/flows/instances/default-authentication-flow/')).body.title, 'Welcome to Keystage!');
    });

    it('official client: create, list, retrieve, update, partial_update, used_by, destroy', async () => {
      const created = await body(
        api.core.coreBrandsCreateRaw({
          brandRequest: { domain: 'oc.example', brandingTitle: 'OC', attributes: { settings: { locale: 'de' } } },
        }),
      );
      assertMatches('Brand', created);
      assert.equal(created.default, false);
      assert.equal(created.branding_title, 'OC');
      assert.equal(created.branding_logo, '/static/dist/assets/icons/icon_left_brand.svg', "authentik's default logo");
      assert.equal(created.flow_authentication, null);
      const typed: Brand = await api.core.coreBrandsRetrieve({ brandUuid: created.brand_uuid });
      assert.equal(typed.domain, 'oc.example');
      assert.deepEqual(typed.attributes, { settings: { locale: 'de' } });

      const list = await body(api.core.coreBrandsListRaw({ search: 'oc.ex' }));
      assertMatches('PaginatedBrandList', list);
      assert.deepEqual(
        list.results.map((b: { domain: string }) => b.domain),
        ['oc.example'],
      );

      const auth = await flowUuid(srv, 'default-authentication-flow');
      const put = await body(
        api.core.coreBrandsUpdateRaw({
          brandUuid: created.brand_uuid,
          brandRequest: {
            domain: 'oc2.example',
            brandingTitle: 'OC two',
            flowAuthentication: auth,
            brandingCustomCss: 'h1 { color: red; }',
          },
        }),
      );
      assert.equal(put.domain, 'oc2.example');
      assert.equal(put.flow_authentication, auth);
      assert.equal(put.branding_custom_css, 'h1 { color: red; }');
      const patched = await body(
        api.core.coreBrandsPartialUpdateRaw({ brandUuid: created.brand_uuid, patchedBrandRequest: { brandingTitle: 'OC three' } }),
      );
      assert.equal(patched.branding_title, 'OC three');
      assert.equal(patched.domain, 'oc2.example', 'a PATCH keeps what it does not send');
      assert.deepEqual(await api.core.coreBrandsUsedByList({ brandUuid: created.brand_uuid }), []);
      await api.core.coreBrandsDestroy({ brandUuid: created.brand_uuid });
      assert.equal((await failure(api.core.coreBrandsRetrieve({ brandUuid: created.brand_uuid }))).status, 404);
      assert.deepEqual((await call(srv, 'GET', `/core/brands/${created.brand_uuid}/`)).body, {
        detail: 'No Brand matches the given query.',
      });
    });

    it('validation: authentik’s field errors as 400s, never a 500', async () => {
      const bad = async (payload: unknown, method = 'POST', path = '/core/brands/') => {
        const r = await call(srv, method, path, payload);
        assert.equal(r.status, 400, `${JSON.stringify(payload)} → ${r.status} ${JSON.stringify(r.body)}`);
        return r.body;
      };
      assert.deepEqual(await bad({}), { domain: ['This field is required.'] });
      assert.deepEqual(await bad({ domain: '' }), { domain: ['This field may not be blank.'] });
      assert.deepEqual(await bad({ domain: 'x.example', default: true }), { default: ['Only a single brand can be set as default.'] });
      assert.deepEqual(await bad({ domain: 'authentik-default' }), { domain: ['This field must be unique.'] });
      assert.deepEqual(await bad({ domain: 'x.example', branding_title: '' }), { branding_title: ['This field may not be blank.'] });
      assert.deepEqual(await bad({ domain: 'x.example', branding_logo: '../etc/passwd' }), {
        branding_logo: ["Parent directory references ('..') are not allowed"],
      });
      assert.deepEqual(await bad({ domain: 'x.example', branding_favicon: 'javascript:alert(1)' }), {
        branding_favicon: [
          'File name can only contain letters (a-z, A-Z), numbers (0-9), dots (.), hyphens (-), underscores (_), and forward slashes (/)',
        ],
      });
      assert.deepEqual(await bad({ domain: 'x.example', branding_default_flow_background: '/etc/x.png' }), {
        branding_default_flow_background: ['Absolute paths are not allowed'],
      });
      assert.deepEqual(await bad({ domain: 'x.example', flow_authentication: MISSING }), {
        flow_authentication: [`Invalid pk "${MISSING}" - object does not exist.`],
      });
      assert.deepEqual(await bad({ domain: 'x.example', flow_recovery: 'nope' }), { flow_recovery: ['“nope” is not a valid UUID.'] });
      assert.deepEqual(await bad({ domain: 'x.example', web_certificate: MISSING }), {
        web_certificate: [`Invalid pk "${MISSING}" - object does not exist.`],
      });
      assert.deepEqual(await bad({ domain: 'x.example', client_certificates: [MISSING] }), {
        client_certificates: [`Invalid pk "${MISSING}" - object does not exist.`],
      });
      assert.deepEqual(await bad({ domain: 'x.example', attributes: [] }), {
        attributes: ['Expected a dictionary of items but got type "list".'],
      });
      assert.deepEqual(await bad({ domain: 'x.example', default: 'maybe' }), { default: ['Must be a valid boolean.'] });
      assert.deepEqual(await bad({ domain: ['x'] }), { domain: ['Not a valid string.'] });
      assert.deepEqual(await bad([1, 2]), { non_field_errors: ['Invalid data. Expected a dictionary, but got list.'] });
      // allowed: external URLs, uploaded file names, fa:// icons, a blank custom CSS
      const ok = await call(srv, 'POST', '/core/brands/', {
        domain: 'assets.example',
        branding_logo: 'https://cdn.example/logo-%(theme)s.svg',
        branding_favicon: 'brand/favicon.png',
        branding_default_flow_background: 'fa://fa-circle',
        branding_custom_css: '',
      });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      // the existing default brand may keep `default: true` on its own PUT
      const def = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0];
      const again = await call(srv, 'PUT', `/core/brands/${def.brand_uuid}/`, { ...def });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      // another brand made default while one is: refused on update too
      assert.deepEqual(await bad({ default: true }, 'PATCH', `/core/brands/${ok.body.brand_uuid}/`), {
        default: ['Only a single brand can be set as default.'],
      });
      await call(srv, 'DELETE', `/core/brands/${ok.body.brand_uuid}/`);
    });

    it('default_application: an application that exists; deleting the application unsets it', async () => {
      assert.deepEqual((await call(srv, 'POST', '/core/brands/', { domain: 'apps.example', default_application: MISSING })).body, {
        default_application: [`Invalid pk "${MISSING}" - object does not exist.`],
      });
      const app = await call(srv, 'POST', '/core/applications/', { name: 'Brand app', slug: 'brand-app' });
      assert.equal(app.status, 201, JSON.stringify(app.body));
      const r = await call(srv, 'POST', '/core/brands/', { domain: 'apps.example', default_application: app.body.pk });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      try {
        assert.equal(r.body.default_application, app.body.pk);
        const cleared = await call(srv, 'PATCH', `/core/brands/${r.body.brand_uuid}/`, { default_application: null });
        assert.equal(cleared.body.default_application, null);
        await call(srv, 'PATCH', `/core/brands/${r.body.brand_uuid}/`, { default_application: app.body.pk });
        assert.equal((await call(srv, 'DELETE', `/core/applications/${app.body.slug}/`)).status, 204);
        const after = await call(srv, 'GET', `/core/brands/${r.body.brand_uuid}/`);
        assert.equal(after.status, 200, 'the brand stays');
        assert.equal(after.body.default_application, null);
      } finally {
        await call(srv, 'DELETE', `/core/brands/${r.body.brand_uuid}/`);
      }
    });

    it('filters, search and ordering as authentik’s BrandViewSet', async () => {
      const auth = await flowUuid(srv, 'default-authentication-flow');
      const a = (
        await call(srv, 'POST', '/core/brands/', { domain: 'filter-a.example', branding_title: 'Alpha', flow_authentication: auth })
      ).body;
      const b = (await call(srv, 'POST', '/core/brands/', { domain: 'filter-b.example', branding_title: 'Beta' })).body;
      const domains = async (q: string) => {
        const r = await call(srv, 'GET', `/core/brands/?${q}`);
        assert.equal(r.status, 200, `${q}: ${JSON.stringify(r.body)}`);
        return r.body.results.map((x: { domain: string }) => x.domain);
      };
      assert.deepEqual(await domains('domain=filter-a.example'), ['filter-a.example']);
      assert.deepEqual(await domains('branding_title=Beta'), ['filter-b.example']);
      assert.deepEqual(await domains('default=true'), ['authentik-default']);
      assert.deepEqual(await domains(`flow_authentication=${auth}&search=filter`), ['filter-a.example']);
      assert.deepEqual(await domains(`brand_uuid=${b.brand_uuid}`), ['filter-b.example']);
      assert.deepEqual(await domains('search=ALPHA'), ['filter-a.example'], 'search: the title, case-insensitive');
      assert.deepEqual(await domains('search=filter&ordering=-domain'), ['filter-b.example', 'filter-a.example']);
      assert.deepEqual(await domains('search=filter'), ['filter-a.example', 'filter-b.example'], 'ordered by domain');
      // django-filter's answers for a bad value
      assert.equal((await call(srv, 'GET', `/core/brands/?flow_authentication=${MISSING}`)).status, 400);
      assert.equal((await call(srv, 'GET', '/core/brands/?brand_uuid=nope')).status, 400);
      for (const x of [a, b]) await call(srv, 'DELETE', `/core/brands/${x.brand_uuid}/`);
    });

    it('a deleted flow leaves the brands that named it without one (authentik: SET_NULL)', async () => {
      const f = await call(srv, 'POST', '/flows/instances/', { name: 'gone', slug: 'gone-flow', title: 'Gone', designation: 'recovery' });
      const b = (await call(srv, 'POST', '/core/brands/', { domain: 'gone.example', flow_recovery: f.body.pk })).body;
      const used = await call(srv, 'GET', `/flows/instances/gone-flow/used_by/`);
      assert.ok(
        used.body.some(
          (u: { model_name: string; pk: string; action: string }) =>
            u.model_name === 'brand' && u.pk === b.brand_uuid && u.action === 'set_null',
        ),
        JSON.stringify(used.body),
      );
      assert.equal((await call(srv, 'DELETE', '/flows/instances/gone-flow/')).status, 204);
      assert.equal((await call(srv, 'GET', `/core/brands/${b.brand_uuid}/`)).body.flow_recovery, null);
      await call(srv, 'DELETE', `/core/brands/${b.brand_uuid}/`);
    });

    it('only superusers manage brands; anyone reads the current one', async () => {
      await createUser(srv, 'brand-pleb', 'brand-pleb-password-1');
      const pleb = await call(srv, 'POST', '/core/tokens/', {
        identifier: 'brand-pleb-token',
        intent: 'api',
        user: (await call(srv, 'GET', '/core/users/?username=brand-pleb')).body.results[0].pk,
        expiring: false,
      });
      assert.equal(pleb.status, 201, JSON.stringify(pleb.body));
      const key = (await call(srv, 'GET', '/core/tokens/brand-pleb-token/view_key/')).body.key;
      const as = (method: string, path: string, payload?: unknown) => call({ ...srv, token: key }, method, path, payload);
      assert.equal((await as('GET', '/core/brands/')).status, 403);
      assert.equal((await as('POST', '/core/brands/', { domain: 'pleb.example' })).status, 403);
      assert.equal((await as('GET', '/core/brands/current/')).status, 200);
      assert.equal((await fetch(`${srv.api}/core/brands/`)).status, 403);
    });

    it('current: longest matching parent domain, then the default brand; none at all gives the fallback', async () => {
      const weak = (await call(srv, 'POST', '/core/brands/', { domain: 'bar.baz', branding_title: 'custom-weak' })).body;
      const strong = (await call(srv, 'POST', '/core/brands/', { domain: 'foo.bar.baz', branding_title: 'custom-strong' })).body;
      const current = async (host: string) => (await hostRequest(srv, 'GET', '/api/v3/core/brands/current/', { host })).json;
      assert.equal((await current('foo.bar.baz')).branding_title, 'custom-strong');
      assert.equal((await current('FOO.bar.baz:9000')).matched_domain, 'foo.bar.baz', 'case and port do not matter');
      assert.equal((await current('other.bar.baz')).branding_title, 'custom-weak');
      assert.equal((await current('bar.baz')).branding_title, 'custom-weak');
      assert.equal((await current('xbar.baz')).matched_domain, 'authentik-default', 'a domain matches whole labels only');
      assert.equal((await current('example.org')).matched_domain, 'authentik-default');
      // the themed logo, and the theme and locale from the attributes
      await call(srv, 'PATCH', `/core/brands/${weak.brand_uuid}/`, {
        branding_logo: 'https://cdn.example/logo-%(theme)s.svg',
        branding_favicon: 'brand/icon.png',
        attributes: { settings: { theme: { base: 'dark' }, locale: 'fr' } },
      });
      const themed = await current('x.bar.baz');
      assertMatches('CurrentBrand', themed);
      assert.deepEqual(themed.branding_logo_themed_urls, {
        light: 'https://cdn.example/logo-light.svg',
        dark: 'https://cdn.example/logo-dark.svg',
      });
      assert.equal(themed.branding_favicon, '/files/media/public/brand/icon.png');
      assert.equal(themed.ui_theme, 'dark');
      assert.equal(themed.default_locale, 'fr');
      for (const x of [weak, strong]) await call(srv, 'DELETE', `/core/brands/${x.brand_uuid}/`);

      // with no brand at all: authentik's fallback brand, titled for Keystage
      const all = (await call(srv, 'GET', '/core/brands/?page_size=100')).body.results;
      for (const x of all) await call(srv, 'DELETE', `/core/brands/${x.brand_uuid}/`);
      const fallback = await current('anything.example');
      assert.equal(fallback.matched_domain, 'fallback');
      assert.equal(fallback.branding_title, 'Keystage');
      assert.equal('flow_authentication' in fallback, false);
      // and `/` still finds a login: authentik's default authentication flow
      const root = await hostRequest(srv, 'GET', '/flows/-/default/authentication/', { host: 'anything.example' });
      assert.equal(root.headers.location, '/if/flow/default-authentication-flow/');
    });
  });
}

describe('brands: the default brand at start', () => {
  it('KEYSTAGE_DEFAULT_BRAND_ENABLED / AUTHENTIK_DEFAULT_BRAND_ENABLED: read as authentik does, a bad value refused', () => {
    assert.equal(loadConfig({}).defaultBrandEnabled, true);
    assert.equal(loadConfig({ AUTHENTIK_DEFAULT_BRAND_ENABLED: 'false' }).defaultBrandEnabled, false);
    assert.equal(loadConfig({ KEYSTAGE_DEFAULT_BRAND_ENABLED: 'no', AUTHENTIK_DEFAULT_BRAND_ENABLED: 'true' }).defaultBrandEnabled, false);
    assert.throws(() => loadConfig({ KEYSTAGE_DEFAULT_BRAND_ENABLED: 'sometimes' }), /must be true or false/);
    // the variable this replaces is not read any more
    assert.equal('brandTitle' in loadConfig({ KEYSTAGE_BRAND_TITLE: 'Old' }), false);
  });

  it('disabled: the brand is made for its domain but is not the default; a restart makes no second one', async () => {
    const srv = await startServer('sqlite', { defaultBrandEnabled: false });
    try {
      const list = (await call(srv, 'GET', '/core/brands/')).body.results;
      assert.deepEqual(
        list.map((b: { domain: string; default: boolean }) => [b.domain, b.default]),
        [['authentik-default', false]],
      );
      assert.equal((await call(srv, 'GET', '/core/brands/current/')).body.matched_domain, 'fallback');
      const again = await startServer('sqlite', { sqlitePath: srv.config.sqlitePath, defaultBrandEnabled: true });
      try {
        assert.equal((await call(again, 'GET', '/core/brands/')).body.pagination.count, 1, 'a brand of that domain exists: none is made');
      } finally {
        await again.close();
      }
    } finally {
      await srv.close();
    }
  });
});
