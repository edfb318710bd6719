/**
 * Security: generated parameters against the protocol endpoints, which take forms, query strings, XML and SCIM JSON
 * rather than the admin API's schemas — OAuth2/OIDC (authorize anonymous and logged in, token with and without the
 * client's credentials, introspect, revoke, device, userinfo, end-session, webfinger), a SAML provider's SSO and SLO
 * bindings, and a SCIM source (writes, patches, filters). Values mix the valid (the client's id and secret, known
 * grant types, a registered redirect URI) with the hostile (U+0000, 3,000 characters, prototype names, `alg: none`
 * JWTs, entity declarations). Whatever arrives: no 5xx, on SQLite and PostgreSQL.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateRawSync } from 'node:zlib';
import fc from 'fast-check';
import { call, dialects, startServer, ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { oauth2App, type OAuth2App } from './oauth2/apps.js';
import { flowsAndMappings, samlApp } from './saml/sp.js';
import { HOSTILE_TEXT } from '../helpers/hostile.js';

const SEED = 20261207;
const form = (o: Record<string, string>) => new URLSearchParams(o).toString();
const FORM = 'application/x-www-form-urlencoded';

for (const dialect of dialects()) {
  describe(`security: generated input against the protocol endpoints (${dialect})`, () => {
    let srv: TestServer;
    let app: OAuth2App;
    let scimKey = '';
    let cookie = '';
    const statuses = new Map<number, number>();
    const failures: string[] = [];

    const hit = async (label: string, path: string, init: RequestInit = {}) => {
      const res = await fetch(`${srv.url}${path}`, { redirect: 'manual', ...init });
      await res.arrayBuffer();
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status >= 500) failures.push(`${res.status} ${label} ${path} ${String(init.body ?? '').slice(0, 200)}`);
      return res;
    };

    before(async () => {
      srv = await startServer(dialect, { lockout: { accountIpLimit: 1e6, accountLimit: 1e6, ipLimit: 1e6, slowAfter: 1e6 } });
      app = await oauth2App(srv, 'fz', {
        mappings: ['openid', 'email', 'profile', 'offline_access'],
        extra: {
          redirect_uris: [
            { matching_mode: 'strict', url: 'http://127.0.0.1:9/cb' },
            { matching_mode: 'regex', url: 'http://127\\.0\\.0\\.1:9/r.*' },
          ],
        },
      });
      const { flows, managed } = await flowsAndMappings(srv);
      await samlApp(srv, 'sfz', {
        authorization_flow: flows['default-provider-authorization-implicit-consent'],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        acs_url: 'http://127.0.0.1:9/saml/acs',
        audience: 'http://127.0.0.1:9/saml/metadata',
        property_mappings: Object.values(managed),
      });
      const scim = await call(srv, 'POST', '/sources/scim/', { name: 'FZ', slug: 'fz' });
      assert.equal(scim.status, 201);
      scimKey = (await call(srv, 'GET', `/core/tokens/${scim.body.token_obj.identifier}/view_key/`)).body.key;
      const c = new FlowClient(srv);
      await c.get();
      await c.post({ component: 'ak-stage-identification', uid_field: 'akadmin' });
      assert.equal((await c.post({ component: 'ak-stage-password', password: ADMIN_PASSWORD })).body.component, 'xak-flow-redirect');
      cookie = [...c.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    });
    after(async () => srv?.close());

    const text = () =>
      fc.oneof(
        fc.constantFrom(
          ...HOSTILE_TEXT,
          'http://127.0.0.1:9/cb',
          'http://127.0.0.1:9/rx',
          app.provider.client_id,
          app.provider.client_secret,
          'openid offline_access',
          'code',
          'code id_token token',
          'none',
          'login',
          'S256',
          'plain',
          'authorization_code',
          'refresh_token',
          'client_credentials',
          'password',
          'urn:ietf:params:oauth:grant-type:device_code',
          'urn:ietf:params:oauth:grant-type:token-exchange',
          'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
          'eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.',
          'akadmin',
          ADMIN_PASSWORD,
          'form_post',
          '{"userinfo":{"email":null}}',
          '9999999999999999999',
        ),
        fc.string({ maxLength: 20 }),
      );
    const params = (names: string[]) =>
      fc.record(Object.fromEntries(names.map((n) => [n, text()])), { requiredKeys: [] }) as fc.Arbitrary<Record<string, string>>;

    it('OAuth2 / OpenID Connect endpoints', async () => {
      const basic = `Basic ${Buffer.from(`${app.provider.client_id}:${app.provider.client_secret}`).toString('base64')}`;
      const authorize = params(['client_id', 'response_type', 'redirect_uri', 'scope', 'state', 'nonce', 'prompt', 'max_age']);
      const authorize2 = params([
        'code_challenge',
        'code_challenge_method',
        'login_hint',
        'id_token_hint',
        'response_mode',
        'request',
        'claims',
      ]);
      for (const headers of [{}, { cookie }] as Record<string, string>[]) {
        for (const [a, b] of fc.sample(fc.tuple(authorize, authorize2), { numRuns: 12, seed: SEED })) {
          const p = { client_id: app.provider.client_id, ...a, ...b };
          await hit('authorize', `/application/o/authorize/?${form(p)}`, { headers });
          await hit('authorize POST', '/application/o/authorize/', {
            method: 'POST',
            headers: { ...headers, 'content-type': FORM },
            body: form(p),
          });
        }
        for (const p of fc.sample(params(['id_token_hint', 'post_logout_redirect_uri', 'state', 'client_id']), { numRuns: 8, seed: SEED }))
          await hit('end-session', `/application/o/fz/end-session/?${form(p)}`, { headers });
      }
      const token = params(['grant_type', 'code', 'redirect_uri', 'code_verifier', 'refresh_token', 'scope', 'username', 'password']);
      const token2 = params([
        'client_id',
        'client_secret',
        'client_assertion_type',
        'client_assertion',
        'device_code',
        'subject_token',
        'subject_token_type',
      ]);
      for (const [a, b] of fc.sample(fc.tuple(token, token2), { numRuns: 30, seed: SEED })) {
        const body = form({ ...a, ...b });
        await hit('token', '/application/o/token/', { method: 'POST', headers: { 'content-type': FORM }, body });
        await hit('token (basic)', '/application/o/token/', {
          method: 'POST',
          headers: { authorization: basic, 'content-type': FORM },
          body,
        });
      }
      for (const p of fc.sample(params(['token', 'token_type_hint', 'client_id', 'client_secret', 'scope']), { numRuns: 12, seed: SEED })) {
        for (const ep of ['introspect', 'revoke']) {
          await hit(ep, `/application/o/${ep}/`, { method: 'POST', headers: { 'content-type': FORM }, body: form(p) });
          await hit(ep, `/application/o/${ep}/`, {
            method: 'POST',
            headers: { authorization: basic, 'content-type': FORM },
            body: form(p),
          });
        }
        await hit('device', '/application/o/device/', { method: 'POST', headers: { 'content-type': FORM }, body: form(p) });
        // (a header can carry printable ASCII only: other tokens go in the body below)
        const bearer = `Bearer ${p.token ?? ''}`.trim();
        if (/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(bearer))
          await hit('userinfo', '/application/o/userinfo/', { headers: { authorization: bearer } });
        await hit('userinfo POST', '/application/o/userinfo/', {
          method: 'POST',
          headers: { 'content-type': FORM },
          body: form({ access_token: p.token ?? '' }),
        });
        await hit('webfinger', `/.well-known/webfinger?${form({ resource: p.token ?? '', rel: p.scope ?? '' })}`);
      }
      assert.deepEqual(failures, []);
      // answers of every kind came back, so the parameters reached past the first check
      for (const s of [200, 302, 400, 401]) assert.ok(statuses.get(s), `no ${s} among ${JSON.stringify([...statuses])}`);
    });

    it("a SAML provider's SSO and SLO bindings", async () => {
      statuses.clear();
      failures.length = 0;
      const xml = fc.oneof(
        fc.string({ maxLength: 50 }),
        fc.constantFrom(
          '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"/>',
          '<x/>',
          '<!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
          '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0" IssueInstant="x" AssertionConsumerServiceURL="javascript:1"><saml:Issuer xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">http://127.0.0.1:9/saml/metadata</saml:Issuer><samlp:NameIDPolicy Format="bad"/></samlp:AuthnRequest>',
          '<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" ID="_1" Version="2.0"><saml:NameID xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion">a\u0000</saml:NameID></samlp:LogoutRequest>',
        ),
      );
      for (const headers of [{}, { cookie }] as Record<string, string>[])
        for (const [x, relay, other] of fc.sample(fc.tuple(xml, text(), text()), { numRuns: 15, seed: SEED })) {
          const deflated = deflateRawSync(Buffer.from(x)).toString('base64');
          const posted = Buffer.from(x).toString('base64');
          const post = (body: Record<string, string>) => ({
            method: 'POST',
            headers: { ...headers, 'content-type': FORM },
            body: form(body),
          });
          const q = form({ SAMLRequest: deflated, RelayState: relay, SigAlg: other, Signature: other });
          await hit('sso redirect', `/application/saml/sfz/sso/binding/redirect/?${q}`, { headers });
          await hit('sso redirect', `/application/saml/sfz/sso/binding/redirect/?${form({ SAMLRequest: other })}`, { headers });
          await hit('sso post', '/application/saml/sfz/sso/binding/post/', post({ SAMLRequest: posted, RelayState: relay }));
          await hit('sso init', `/application/saml/sfz/sso/binding/init/?${form({ RelayState: relay })}`, { headers });
          await hit('slo redirect', `/application/saml/sfz/slo/binding/redirect/?${form({ SAMLRequest: deflated, RelayState: relay })}`, {
            headers,
          });
          await hit('slo post', '/application/saml/sfz/slo/binding/post/', post({ SAMLRequest: posted, SAMLResponse: posted }));
        }
      assert.deepEqual(failures, []);
      for (const s of [200, 302, 400]) assert.ok(statuses.get(s), `no ${s} among ${JSON.stringify([...statuses])}`);
    });

    it('a SCIM source: writes, patches and filters', async () => {
      statuses.clear();
      failures.length = 0;
      const headers = { authorization: `Bearer ${scimKey}`, 'content-type': 'application/scim+json' };
      const operation = fc.record(
        {
          op: fc.oneof(fc.constantFrom('add', 'remove', 'replace', 'Add'), text()),
          path: fc.oneof(
            fc.constantFrom('active', 'members', 'members[value eq "1"]', 'emails[type eq "work"].value', 'name.givenName', 'userName'),
            text(),
          ),
          value: fc.jsonValue({ maxDepth: 2 }),
        },
        { requiredKeys: [] },
      );
      const resource = fc.oneof(
        fc.jsonValue({ maxDepth: 3 }),
        fc.record(
          {
            schemas: fc.oneof(
              fc.constant(['urn:ietf:params:scim:schemas:core:2.0:User']),
              fc.constant(['urn:ietf:params:scim:api:messages:2.0:PatchOp']),
              fc.jsonValue(),
            ),
            userName: text(),
            externalId: text(),
            active: fc.oneof(fc.boolean(), text()),
            emails: fc.oneof(fc.constant([{ value: 'a@example.org', primary: true }]), fc.jsonValue()),
            name: fc.jsonValue(),
            displayName: text(),
            members: fc.oneof(fc.constant([{ value: '1' }]), fc.jsonValue()),
            Operations: fc.oneof(fc.array(operation, { maxLength: 3 }), fc.jsonValue()),
          },
          { requiredKeys: [] },
        ),
      );
      const created: [string, string][] = [];
      for (const body of fc.sample(resource, { numRuns: 25, seed: SEED }))
        for (const kind of ['Users', 'Groups']) {
          const r = await fetch(`${srv.url}/source/scim/fz/v2/${kind}`, { method: 'POST', headers, body: JSON.stringify(body) });
          const answer = await r.text();
          statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
          if (r.status >= 500) failures.push(`${r.status} POST ${kind} ${JSON.stringify(body).slice(0, 200)}`);
          if (r.status === 201) created.push([kind, JSON.parse(answer).id]);
        }
      assert.ok(created.length > 0, 'no generated resource was created');
      for (const [i, body] of fc.sample(resource, { numRuns: 25, seed: SEED + 1 }).entries()) {
        const [kind, id] = created[i % created.length]!;
        for (const method of ['PUT', 'PATCH'])
          await hit(`${method} ${kind}`, `/source/scim/fz/v2/${kind}/${encodeURIComponent(id)}`, {
            method,
            headers,
            body: JSON.stringify(body),
          });
      }
      const filter = fc.oneof(
        text(),
        fc.constantFrom(
          'userName eq "a\u0000"',
          'emails[type eq "work" and value co "@"]',
          'userName sw "J" or (name.familyName eq "x" and not (active pr))',
          'displayName eq ',
          '(((((((((((((((((((((',
          `${'a eq "b" and '.repeat(200)}c pr`,
          'externalId eq 1',
          'members.value eq "1"',
          'id eq "x"',
          'userName eq "\\"',
        ),
      );
      for (const [f, start, count] of fc.sample(fc.tuple(filter, text(), text()), { numRuns: 25, seed: SEED }))
        for (const kind of ['Users', 'Groups'])
          await hit(`GET ${kind}`, `/source/scim/fz/v2/${kind}?${form({ filter: f, startIndex: start, count })}`, { headers });
      for (const p of ['ServiceProviderConfig', 'Schemas', 'ResourceTypes', 'Schemas/x', 'Users/%00', 'Groups/toString', 'Bulk'])
        await hit('GET', `/source/scim/fz/v2/${p}`, { headers });
      assert.deepEqual(failures, []);
      for (const s of [200, 201, 400, 404]) assert.ok(statuses.get(s), `no ${s} among ${JSON.stringify([...statuses])}`);
    });
  });
}
