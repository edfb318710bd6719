/**
 * GeoIP and ASN databases (src/geoip/) and what reads them: the GeoIP policy (/policies/geoip/, authentik's
 * GeoIPPolicy and its tests' scenarios, in a real login flow), /policies/geoip_iso3166/, the capabilities of
 * /root/config/, events' `geo` and `asn`, reputation scores' `ip_geo_data` / `ip_asn_data`, authenticated sessions'
 * `geo_ip` / `asn`, and the user login stage's `geoip_binding` and `network_binding` by the databases. The databases
 * are MaxMind files written by test/helpers/mmdb.ts; requests come from their places through X-Forwarded-For.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { RootApi } from '@goauthentik/api/dist/apis/RootApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { bindingOf, createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { NOWHERE, PLACES, geoipFiles } from '../helpers/geoip-files.js';

const PASSWORD = 'geo-user-password-1';

for (const dialect of dialects()) {
  describe(`GeoIP and ASN databases (${dialect})`, () => {
    let srv: TestServer;
    let files: Awaited<ReturnType<typeof geoipFiles>>;
    let api: PoliciesApi;
    before(async () => {
      files = await geoipFiles();
      srv = await startServer(dialect, {
        trustedProxies: '127.0.0.1',
        geoip: { cityPath: files.city, asnPath: files.asn, cityDefault: false, asnDefault: false },
        lockout: { accountIpLimit: 100, accountLimit: 1000, ipLimit: 1000, slowAfter: 100 },
      });
      api = new PoliciesApi(new Configuration({ basePath: srv.api, accessToken: srv.token }));
    });
    after(async () => {
      await srv.close();
      await rm(files.dir, { recursive: true, force: true });
    });

    /** identification + password in flow `slug` from `ip`; the last challenge and the client */
    const login = async (slug: string, username: string, ip: string, password = PASSWORD) => {
      const c = new FlowClient(srv, slug, { ip });
      await c.get();
      const pw = await c.post({ component: 'ak-stage-identification', uid_field: username });
      if (pw.body.component !== 'ak-stage-password') return { last: pw.body, c };
      const last = await c.post({ component: 'ak-stage-password', password });
      return { last: last.body, c };
    };
    const lastEvent = async (action: string, username?: string) => {
      let q = srv.app.store.db.selectFrom('events').selectAll().where('action', '=', action);
      if (username) q = q.where('username', '=', username);
      const e = await q.orderBy('created', 'desc').executeTakeFirstOrThrow();
      return { ...e, context: JSON.parse(e.context) };
    };

    it('capabilities: can_geo_ip and can_asn while the databases are loaded (official client)', async () => {
      const root = new RootApi(new Configuration({ basePath: srv.api }));
      const config = await root.rootConfigRetrieve();
      assert.ok(config.capabilities.includes('can_geo_ip' as never), JSON.stringify(config.capabilities));
      assert.ok(config.capabilities.includes('can_asn' as never));
      assert.ok(config.capabilities.includes('can_impersonate' as never));
      const plain = await startServer(dialect, {
        geoip: { cityPath: '', asnPath: '/nonexistent/GeoLite2-ASN.mmdb', cityDefault: false, asnDefault: false },
      });
      try {
        const caps = (await call(plain, 'GET', '/root/config/')).body.capabilities;
        assert.deepEqual(caps, ['can_impersonate'], 'no database, no GeoIP capability');
        // the same server: nothing about places anywhere, and no policy context keys
        assert.equal(plain.app.services.geoip.city(PLACES.berlin.ip), null);
        assert.deepEqual(plain.app.services.geoip.policyContext(PLACES.berlin.ip), {});
      } finally {
        await plain.close();
      }
    });

    it('/policies/geoip_iso3166/: every ISO 3166-1 country, to anyone, unpaginated', async () => {
      const countries = await new PoliciesApi(new Configuration({ basePath: srv.api })).policiesGeoipIso3166List();
      assert.equal(countries.length, 249);
      assert.deepEqual(
        countries.find((c) => c.code === ('DE' as never)),
        { code: 'DE', name: 'Germany' },
      );
      assert.equal(new Set(countries.map((c) => c.code)).size, 249);
    });

    it('REST: fields, defaults, countries_obj, validation (official client and raw HTTP)', async () => {
      const created = await body(
        api.policiesGeoipCreateRaw({ geoIPPolicyRequest: { name: 'geo-rest', countries: ['DE', 'AU'] as never, asns: [64500] } }),
      );
      assertMatches('GeoIPPolicy', created);
      assert.deepEqual(
        [
          created.countries,
          created.countries_obj,
          created.asns,
          created.check_history_distance,
          created.history_max_distance_km,
          created.distance_tolerance_km,
          created.history_login_count,
          created.check_impossible_travel,
          created.impossible_tolerance_km,
          created.component,
          created.meta_model_name,
          created.verbose_name,
        ],
        [
          ['DE', 'AU'],
          [
            { code: 'DE', name: 'Germany' },
            { code: 'AU', name: 'Australia' },
          ],
          [64500],
          false,
          100,
          50,
          5,
          false,
          100,
          'ak-policy-geoip-form',
          'authentik_policies_geoip.geoippolicy',
          'GeoIP Policy',
        ],
      );
      const fetched = await api.policiesGeoipRetrieve({ policyUuid: created.pk });
      assert.deepEqual(fetched.countriesObj, [
        { code: 'DE', name: 'Germany' },
        { code: 'AU', name: 'Australia' },
      ]);
      const patched = await call(srv, 'PATCH', `/policies/geoip/${created.pk}/`, {
        history_max_distance_km: 5_000_000_000,
        check_history_distance: true,
      });
      assert.deepEqual([patched.status, patched.body.history_max_distance_km], [200, 5_000_000_000], 'a 64-bit distance is kept');
      assert.equal(
        (await call(srv, 'GET', '/policies/all/?search=geo-rest')).body.results[0].component,
        'ak-policy-geoip-form',
        'listed among all policies',
      );
      const required = await call(srv, 'POST', '/policies/geoip/', { name: 'geo-none' });
      assert.deepEqual([required.status, required.body], [400, { countries: ['This field is required.'] }]);
      const bad = await call(srv, 'POST', '/policies/geoip/', { name: 'geo-bad', countries: ['XX'], distance_tolerance_km: -1 });
      assert.equal(bad.status, 400);
      assert.deepEqual(Object.keys(bad.body).sort(), ['countries', 'distance_tolerance_km']);
      assert.equal((await call(srv, 'GET', '/policies/geoip/?search=geo-bad')).body.pagination.count, 0, 'nothing written');
      await call(srv, 'DELETE', `/policies/geoip/${created.pk}/`);
    });

    it('events, reputation scores and sessions say where the address is', async () => {
      await createUser(srv, 'geo-where', PASSWORD);
      const failed = await login('default-authentication-flow', 'geo-where', PLACES.sydney.ip, 'wrong');
      assert.equal(failed.last.component, 'ak-stage-password');
      const score = await srv.app.store.db
        .selectFrom('reputation_scores')
        .selectAll()
        .where('identifier', '=', 'geo-where')
        .executeTakeFirstOrThrow();
      assert.deepEqual(JSON.parse(score.ip_geo_data), { continent: 'OC', country: 'AU', lat: -33.8688, long: 151.2093, city: 'Sydney' });
      assert.deepEqual(JSON.parse(score.ip_asn_data), { asn: 64501, as_org: 'AS64501 Example', network: '203.0.113.0/24' });
      const listed = (await call(srv, 'GET', '/policies/reputation/scores/?identifier=geo-where')).body.results[0];
      assert.equal(listed.ip_geo_data.country, 'AU');

      const ok = await login('default-authentication-flow', 'geo-where', PLACES.berlin.ip);
      assert.equal(ok.last.component, 'xak-flow-redirect', JSON.stringify(ok.last));
      const event = await lastEvent('login', 'geo-where');
      assert.equal(event.client_ip, PLACES.berlin.ip);
      assert.deepEqual(event.context.geo, { continent: 'EU', country: 'DE', lat: 52.52, long: 13.405, city: 'Berlin' });
      assert.deepEqual(event.context.asn, { asn: 64500, as_org: 'AS64500 Example', network: '198.51.100.0/24' });
      const shown = (await call(srv, 'GET', '/events/events/?action=login&username=geo-where')).body.results[0];
      assert.equal(shown.context.geo.city, 'Berlin');

      const sessions = (await call(srv, 'GET', '/core/authenticated_sessions/?user__username=geo-where')).body.results;
      assert.equal(sessions.length, 1);
      assertMatches('AuthenticatedSession', sessions[0]);
      assert.deepEqual(sessions[0].geo_ip, { continent: 'EU', country: 'DE', lat: 52.52, long: 13.405, city: 'Berlin' });
      assert.deepEqual(sessions[0].asn, { asn: 64500, as_org: 'AS64500 Example', network: '198.51.100.0/24' });

      // an address the databases do not know: no `geo`, no `asn`, empty data
      await login('default-authentication-flow', 'geo-where', NOWHERE, 'wrong');
      const unknown = await srv.app.store.db
        .selectFrom('reputation_scores')
        .selectAll()
        .where('identifier', '=', 'geo-where')
        .where('ip', '=', NOWHERE)
        .executeTakeFirstOrThrow();
      assert.deepEqual([unknown.ip_geo_data, unknown.ip_asn_data], ['{}', '{}']);
      const nowhere = await login('default-authentication-flow', 'geo-where', NOWHERE);
      assert.equal(nowhere.last.component, 'xak-flow-redirect');
      const plain = await lastEvent('login', 'geo-where');
      assert.equal(plain.client_ip, NOWHERE);
      assert.equal('geo' in plain.context || 'asn' in plain.context, false);
    });

    describe('the GeoIP policy in a login flow (a deny stage bound to its negation, as authentik documents)', () => {
      let slug: string;
      let denyBinding: string;
      let binding: string | undefined;
      before(async () => {
        await createUser(srv, 'geo-user', PASSWORD);
        const stages = await defaultStages(srv);
        const deny = await createStage(srv, '/stages/deny/', { name: 'geo-deny' });
        slug = await flowOf(srv, 'geo-guarded', [stages.identification, stages.password, deny, stages.login]);
        denyBinding = await bindingOf(srv, slug, deny);
        // evaluated when the deny stage's turn comes: the user is known by then
        const p = await call(srv, 'PATCH', `/flows/bindings/${denyBinding}/`, { evaluate_on_plan: false, re_evaluate_policies: true });
        assert.equal(p.status, 200, JSON.stringify(p.body));
      });
      const guard = async (fields: Record<string, unknown>, bindingFields: Record<string, unknown> = {}) => {
        if (binding) await call(srv, 'DELETE', `/policies/bindings/${binding}/`);
        const policy = await call(srv, 'POST', '/policies/geoip/', { name: `geo-${Math.random()}`, countries: [], ...fields });
        assert.equal(policy.status, 201, JSON.stringify(policy.body));
        const b = await call(srv, 'POST', '/policies/bindings/', {
          target: denyBinding,
          policy: policy.body.pk,
          order: 0,
          negate: true,
          ...bindingFields,
        });
        assert.equal(b.status, 201, JSON.stringify(b.body));
        binding = b.body.pk;
        return policy.body.pk as string;
      };
      const outcome = async (ip: string, username = 'geo-user') => {
        const { last } = await login(slug, username, ip);
        return last.component === 'xak-flow-redirect'
          ? 'in'
          : last.component === 'ak-stage-access-denied'
            ? 'denied'
            : JSON.stringify(last);
      };

      it('countries and ASNs: an allowed one is enough; neither denies with authentik’s message', async () => {
        await guard({ countries: ['DE', 'CA'] });
        assert.equal(await outcome(PLACES.berlin.ip), 'in');
        assert.equal(await outcome(PLACES.sydney.ip), 'denied');
        await guard({ asns: [64501, 13335] });
        assert.equal(await outcome(PLACES.sydney.ip), 'in');
        assert.equal(await outcome(PLACES.berlin.ip), 'denied');
        // authentik's test_policy_requires_only_one_match
        await guard({ asns: [1, 2], countries: ['DE'] });
        assert.equal(await outcome(PLACES.munich.ip), 'in');
        assert.equal(await outcome(PLACES.paris.ip), 'denied');
        // authentik's test_empty_policy
        await guard({});
        assert.equal(await outcome(PLACES.sydney.ip), 'in');
        // the policy's messages, through the test endpoint (the caller's address is 127.0.0.1: not in the databases)
        const policy = await guard({ countries: ['FR'] });
        const tested = await call(srv, 'POST', `/policies/all/${policy}/test/`, {
          user: (await call(srv, 'GET', '/core/users/me/')).body.user.pk,
          context: {},
        });
        assert.equal(tested.status, 200);
        assert.equal(tested.body.passing, false);
        assert.match(JSON.stringify(tested.body), /GeoIP: client IP address not found in City database\./);
      });

      it('an address the database does not know: the binding’s failure_result decides, and an event says why', async () => {
        // (as authentik: an error gives the binding its failure_result, not negated — so a deny stage guarded by a
        // negated binding needs failure_result true to deny an unknown address)
        await guard({ countries: ['DE'] }, { failure_result: true });
        assert.equal(await outcome(NOWHERE), 'denied');
        const e = await lastEvent('policy_exception');
        assert.match(JSON.stringify(e.context), /GeoIP: client IP address not found in City database\./);
        await guard({ countries: ['DE'] }, { failure_result: false });
        assert.equal(await outcome(NOWHERE), 'in', 'failure_result false: the deny stage is not shown');
        await guard({ asns: [64500] }, { failure_result: true });
        assert.equal(await outcome(NOWHERE), 'denied');
        assert.match(JSON.stringify((await lastEvent('policy_exception')).context), /GeoIP: client IP not found in ASN database\./);
      });

      it('history distance and impossible travel against the user’s last logins (authentik’s Canada and Poland)', async () => {
        await guard({});
        await createUser(srv, 'geo-traveller', PASSWORD);
        assert.equal(await outcome(PLACES.canada.ip, 'geo-traveller'), 'in', 'first login: nothing to compare with');
        await guard({ check_impossible_travel: true });
        assert.equal(await outcome(PLACES.poland.ip, 'geo-traveller'), 'denied', '7,120 km within the hour');
        assert.equal(await outcome(PLACES.canada.ip, 'geo-traveller'), 'in', 'from where the last login was');
        await guard({ check_history_distance: true, history_max_distance_km: 1000 });
        assert.equal(await outcome(PLACES.poland.ip, 'geo-traveller'), 'denied');
        // a login long ago: travel is possible, distance is still a limit
        await srv.app.store.db
          .updateTable('events')
          .set({ created: new Date(Date.now() - 30 * 86_400_000).toISOString() })
          .where('username', '=', 'geo-traveller')
          .where('action', '=', 'login')
          .execute();
        await guard({ check_impossible_travel: true });
        assert.equal(await outcome(PLACES.poland.ip, 'geo-traveller'), 'in', '30 days allow 720,000 km');
        await guard({ check_history_distance: true, history_max_distance_km: 1000, history_login_count: 1 });
        assert.equal(await outcome(PLACES.berlin.ip, 'geo-traveller'), 'in', 'Berlin is within 1,000 km of Poland, the last login');
        await guard({ check_history_distance: true, history_max_distance_km: 1000, history_login_count: 5 });
        assert.equal(await outcome(PLACES.berlin.ip, 'geo-traveller'), 'denied', 'Canada is among the last five');
        // tolerance: Berlin–Munich is ≈ 504 km
        await guard({ check_history_distance: true, history_max_distance_km: 400, distance_tolerance_km: 150, history_login_count: 1 });
        assert.equal(await outcome(PLACES.munich.ip, 'geo-traveller'), 'in', '504 < 400 + 150');
        await guard({ check_history_distance: true, history_max_distance_km: 400, distance_tolerance_km: 50, history_login_count: 1 });
        assert.equal(await outcome(PLACES.berlin.ip, 'geo-traveller'), 'denied', '504 ≥ 400 + 50');
        // no location now: nothing to compare (authentik passes)
        assert.equal(await outcome(NOWHERE, 'geo-traveller'), 'in');
        // with countries: an allowed country and no distance failure
        await guard({ countries: ['DE'], check_history_distance: true, history_max_distance_km: 100, history_login_count: 1 });
        assert.equal(await outcome(PLACES.paris.ip, 'geo-traveller'), 'denied');
      });

      it('an expression policy reads request.context["geoip"] and ["asn"] as in authentik', async () => {
        if (binding) await call(srv, 'DELETE', `/policies/bindings/${binding}/`);
        const expr = await call(srv, 'POST', '/policies/expression/', {
          name: 'geo-expression',
          expression: 'return request.context["geoip"]["country"] == "DE" and request.context["asn"]["asn"] == 64500',
        });
        assert.equal(expr.status, 201, JSON.stringify(expr.body));
        const b = await call(srv, 'POST', '/policies/bindings/', { target: denyBinding, policy: expr.body.pk, order: 0, negate: true });
        binding = b.body.pk;
        assert.equal(await outcome(PLACES.munich.ip), 'in');
        assert.equal(await outcome(PLACES.paris.ip), 'denied');
      });
    });

    describe('sessions bound by the databases (user login stage)', () => {
      let loginStage: string;
      before(async () => {
        await createUser(srv, 'geo-bound', PASSWORD);
        loginStage = (await call(srv, 'GET', '/stages/user_login/?name=default-authentication-login')).body.results[0].pk;
      });
      after(async () => {
        await call(srv, 'PATCH', `/stages/user_login/${loginStage}/`, { network_binding: 'no_binding', geoip_binding: 'no_binding' });
      });
      /** logs in from `from`, then asks for the user from `to`: 200 or 403, and the logout event when it broke */
      const moved = async (binding: Record<string, string>, from: string, to: string) => {
        await call(srv, 'PATCH', `/stages/user_login/${loginStage}/`, {
          network_binding: 'no_binding',
          geoip_binding: 'no_binding',
          ...binding,
        });
        const { c, last } = await login('default-authentication-flow', 'geo-bound', from);
        assert.equal(last.component, 'xak-flow-redirect', JSON.stringify(last));
        const there = new FlowClient(srv, 'default-authentication-flow', { ip: to });
        for (const [k, v] of c.cookies) there.cookies.set(k, v);
        const status = (await there.api('GET', '/core/users/me/')).status;
        const again = (await there.api('GET', '/core/users/me/')).status;
        assert.equal(again, status, 'the outcome holds for the next request');
        return { status, event: status === 403 ? await lastEvent('logout', 'geo-bound') : undefined };
      };

      it('geoip_binding: continent, country, city', async () => {
        assert.equal((await moved({ geoip_binding: 'bind_continent' }, PLACES.berlin.ip, PLACES.paris.ip)).status, 200);
        const oc = await moved({ geoip_binding: 'bind_continent' }, PLACES.berlin.ip, PLACES.sydney.ip);
        assert.equal(oc.status, 403);
        assert.deepEqual(oc.event!.context.binding, { reason: 'geoip.continent', previous_value: 'EU', new_value: 'OC' });
        assert.deepEqual(oc.event!.context.ip, { previous: PLACES.berlin.ip, new: PLACES.sydney.ip });
        assert.equal(oc.event!.context.logout_reason, 'Session binding broken');
        assert.equal((await moved({ geoip_binding: 'bind_continent_country' }, PLACES.berlin.ip, PLACES.munich.ip)).status, 200);
        const fr = await moved({ geoip_binding: 'bind_continent_country' }, PLACES.berlin.ip, PLACES.paris.ip);
        assert.deepEqual([fr.status, fr.event!.context.binding.reason], [403, 'geoip.country']);
        assert.equal((await moved({ geoip_binding: 'bind_continent_country_city' }, PLACES.berlin.ip, PLACES.berlin2.ip)).status, 200);
        const city = await moved({ geoip_binding: 'bind_continent_country_city' }, PLACES.berlin.ip, PLACES.munich.ip);
        assert.deepEqual(
          [city.status, city.event!.context.binding],
          [403, { reason: 'geoip.city', previous_value: 'Berlin', new_value: 'Munich' }],
        );
        const unknown = await moved({ geoip_binding: 'bind_continent' }, PLACES.berlin.ip, NOWHERE);
        assert.deepEqual([unknown.status, unknown.event!.context.binding.reason], [403, 'geoip.missing']);
      });

      it('network_binding by the ASN database: ASN, its network, the address', async () => {
        assert.equal(
          (await moved({ network_binding: 'bind_asn' }, PLACES.berlin.ip, PLACES.munich.ip)).status,
          200,
          'same AS, other network',
        );
        const as = await moved({ network_binding: 'bind_asn' }, PLACES.berlin.ip, PLACES.paris.ip);
        assert.deepEqual([as.status, as.event!.context.binding], [403, { reason: 'network.asn', previous_value: 64500, new_value: 64502 }]);
        assert.equal((await moved({ network_binding: 'bind_asn_network' }, PLACES.berlin.ip, PLACES.berlin2.ip)).status, 200);
        const n = await moved({ network_binding: 'bind_asn_network' }, PLACES.berlin.ip, PLACES.munich.ip);
        assert.deepEqual([n.status, n.event!.context.binding.reason], [403, 'network.asn_network']);
        const ip = await moved({ network_binding: 'bind_asn_network_ip' }, PLACES.berlin.ip, PLACES.berlin2.ip);
        assert.deepEqual([ip.status, ip.event!.context.binding.reason], [403, 'network.ip']);
        const missing = await moved({ network_binding: 'bind_asn' }, PLACES.berlin.ip, NOWHERE);
        assert.deepEqual([missing.status, missing.event!.context.binding.reason], [403, 'network.missing']);
        // both modes: each must hold
        const both = await moved(
          { network_binding: 'bind_asn', geoip_binding: 'bind_continent_country_city' },
          PLACES.berlin.ip,
          PLACES.munich.ip,
        );
        assert.deepEqual([both.status, both.event!.context.binding.reason], [403, 'geoip.city']);
      });
    });
  });
}
