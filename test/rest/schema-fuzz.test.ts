/**
 * Security: every operation the served OpenAPI document names (not a list kept by hand), with bodies and query
 * strings generated from its own schema — typed values, wrong types, U+0000, int32 overflow, prototype names — on
 * SQLite and PostgreSQL. Whatever arrives: no 5xx. Then the defects this found, each with the answer a user sees.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { HOSTILE_TEXT } from '../helpers/hostile.js';

type Schema = Record<string, any>;
type Spec = {
  paths: Record<string, Record<string, any>>;
  components: { schemas: Record<string, Schema>; parameters?: Record<string, any> };
};

const ODD = [...HOSTILE_TEXT, '2026-13-45T99:99:99Z', '00000000-0000-0000-0000-000000000000', '-toString', 'name,valueOf', '%', '('];

function generators(spec: Spec) {
  const deref = (x: Schema | undefined): Schema => (x?.$ref ? deref(spec.components.schemas[String(x.$ref).split('/').pop()!]) : (x ?? {}));
  const odd = fc.constantFrom(...ODD);
  const any = fc.oneof(fc.jsonValue({ maxDepth: 2 }), odd, fc.constantFrom(2147483648, -2147483649, 9007199254740991), fc.constant(null));
  const value = (raw: Schema | undefined, depth: number): fc.Arbitrary<unknown> => {
    const s = deref(raw);
    if (s.allOf) return fc.oneof(value(s.allOf[0], depth), any);
    if (s.oneOf || s.anyOf) return fc.oneof(...(s.oneOf ?? s.anyOf).map((x: Schema) => value(x, depth)), any);
    const type = Array.isArray(s.type) ? s.type[0] : s.type;
    let typed: fc.Arbitrary<unknown>;
    if (s.enum) typed = fc.constantFrom(...(s.enum as unknown[]));
    else if (type === 'string') typed = fc.oneof(fc.string({ maxLength: 30 }), fc.uuid(), odd);
    else if (type === 'integer') typed = fc.oneof(fc.integer(), fc.constantFrom(0, 1, 2147483648, 9007199254740991));
    else if (type === 'number') typed = fc.double();
    else if (type === 'boolean') typed = fc.boolean();
    else if (type === 'array') typed = depth > 2 ? fc.constant([]) : fc.array(value(s.items, depth + 1), { maxLength: 3 });
    else if (type === 'object' && s.properties && depth < 3) typed = object(s, depth + 1);
    else typed = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant({ k: 'a\u0000b' }));
    return fc.oneof({ weight: 4, arbitrary: typed }, { weight: 1, arbitrary: any });
  };
  const object = (raw: Schema, depth = 0): fc.Arbitrary<unknown> => {
    const props = (deref(raw).properties ?? {}) as Record<string, Schema>;
    const keys = Object.keys(props).filter((k) => !props[k]!.readOnly);
    if (!keys.length) return fc.jsonValue({ maxDepth: 2 });
    return fc.record(Object.fromEntries(keys.map((k) => [k, value(props[k], depth)])), { requiredKeys: [] });
  };
  const query = (params: Schema[]) =>
    fc.record(
      Object.fromEntries(
        params.map((p) => [p.name, value(p.schema, 2).map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)))]),
      ),
      { requiredKeys: [] },
    );
  return { object, query };
}

for (const dialect of dialects()) {
  describe(`security: every served operation, generated input (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, { lockout: { accountIpLimit: 1e6, accountLimit: 1e6, ipLimit: 1e6, slowAfter: 1e6 } });
    });
    after(async () => srv?.close());

    it('no operation answers 5xx to generated bodies and query strings', async () => {
      const spec = (await call(srv, 'GET', '/schema/?format=json')).body as Spec;
      const gen = generators(spec);
      const existing = new Map<string, Record<string, unknown>[]>();
      const objectsOf = async (listPath: string) => {
        if (!existing.has(listPath)) {
          const r = await call(srv, 'GET', listPath);
          existing.set(listPath, r.status === 200 && Array.isArray(r.body?.results) ? r.body.results.slice(0, 1) : []);
        }
        return existing.get(listPath)!;
      };
      const failures: string[] = [];
      let sent = 0;
      let operations = 0;
      for (const [path, item] of Object.entries(spec.paths)) {
        for (const method of ['get', 'post', 'put', 'patch'] as const) {
          const op = item[method];
          if (!op) continue;
          const params = ((op.parameters ?? []) as Schema[]).map((p) =>
            p.$ref ? spec.components.parameters![String(p.$ref).split('/').pop()!] : p,
          );
          const inPath = params.filter((p) => p.in === 'path');
          const inQuery = params.filter((p) => p.in === 'query');
          // a detail path is tried on an object its list shows (so bodies reach the handler), else on a made-up id
          let url = path;
          if (inPath.length) {
            const [o] = await objectsOf(path.slice(0, path.indexOf('{')));
            for (const p of inPath) {
              const v = o ? (o[p.name] ?? o.pk ?? o.slug) : '00000000-0000-0000-0000-000000000000';
              url = url.replace(`{${p.name}}`, encodeURIComponent(String(v)));
            }
          }
          const body = op.requestBody?.content?.['application/json']?.schema as Schema | undefined;
          if (method === 'get' && !inQuery.length) continue;
          operations++;
          const samples =
            method === 'get'
              ? fc.sample(gen.query(inQuery), { numRuns: 4, seed: 20261207 })
              : fc.sample(body ? gen.object(body) : fc.jsonValue({ maxDepth: 2 }), { numRuns: 4, seed: 20261207 });
          if (method === 'get') {
            // every parameter given twice (a key repeated is an array to the framework, text to a handler)
            const twice = new URLSearchParams();
            for (const q of inQuery) for (const v of ['a', '1']) twice.append(q.name, v);
            sent++;
            const r = await call(srv, 'GET', `${url}?${twice}`);
            if (r.status >= 500) failures.push(`${r.status} GET ${url}?${twice}`);
          }
          for (const sample of samples) {
            sent++;
            const r =
              method === 'get'
                ? await call(srv, 'GET', `${url}?${new URLSearchParams(sample as Record<string, string>)}`)
                : await call(srv, method.toUpperCase(), url, JSON.stringify(sample));
            if (r.status >= 500) failures.push(`${r.status} ${method.toUpperCase()} ${url} ${JSON.stringify(sample).slice(0, 200)}`);
          }
        }
      }
      assert.ok(operations > 400, `only ${operations} operations tried`);
      assert.ok(sent > 1600);
      assert.deepEqual(failures, []);
    });
  });

  // the generated writes above may have changed anything, the admin's token included: a server of their own
  describe(`security: the defects generated input found (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv?.close());

    it("U+0000 in a query string or a body: 400 on that field with DRF's message, nothing written", async () => {
      const q = await call(srv, 'GET', '/core/users/?username=ak%00admin');
      assert.equal(q.status, 400);
      assert.deepEqual(q.body, { username: ['Null characters are not allowed.'] });
      const search = await call(srv, 'GET', '/core/tokens/?search=%00');
      assert.deepEqual([search.status, search.body], [400, { search: ['Null characters are not allowed.'] }]);

      const before = (await call(srv, 'GET', '/core/groups/?page_size=1')).body.pagination.count;
      const named = await call(srv, 'POST', '/core/groups/', { name: 'nul\u0000group' });
      assert.deepEqual([named.status, named.body], [400, { name: ['Null characters are not allowed.'] }]);
      const attrs = await call(srv, 'POST', '/core/groups/', { name: 'nul-attrs', attributes: { note: ['a\u0000b'] } });
      assert.deepEqual([attrs.status, attrs.body], [400, { attributes: ['Null characters are not allowed.'] }]);
      let deep: unknown = 'a\u0000b';
      for (let i = 0; i < 300; i++) deep = { k: deep };
      const deepAttrs = await call(srv, 'POST', '/core/groups/', { name: 'nul-deep', attributes: deep });
      assert.deepEqual([deepAttrs.status, deepAttrs.body], [400, { attributes: ['Null characters are not allowed.'] }]);
      assert.equal((await call(srv, 'GET', '/core/groups/?page_size=1')).body.pagination.count, before);
    });

    it('U+0000 in a login: the identification stage answers with the field error, not a flow error', async () => {
      const c = new FlowClient(srv);
      await c.get();
      const r = await c.request('POST', { component: 'ak-stage-identification', uid_field: 'ak\u0000admin' });
      assert.equal(r.status, 200);
      assert.equal(r.body.component, 'ak-stage-identification');
      assert.deepEqual(r.body.response_errors?.uid_field, [{ string: 'Null characters are not allowed.', code: 'invalid' }]);
    });

    it("U+0000 in a protocol endpoint's parameters or path finds nothing, as an unknown value does", async () => {
      const get = (u: string) => fetch(`${srv.url}${u}`, { redirect: 'manual' });
      const form = (u: string, body: string) =>
        fetch(`${srv.url}${u}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
      const pairs: [Promise<Response>, Promise<Response>][] = [
        [
          get('/application/o/authorize/?client_id=a%00b&response_type=code&scope=openid'),
          get('/application/o/authorize/?client_id=ab&response_type=code&scope=openid'),
        ],
        [
          form('/application/o/token/', 'grant_type=client_credentials&client_id=a%00&client_secret=b'),
          form('/application/o/token/', 'grant_type=client_credentials&client_id=a&client_secret=b'),
        ],
        [
          form('/application/o/token/', 'grant_type=refresh_token&refresh_token=a%00&client_id=x'),
          form('/application/o/token/', 'grant_type=refresh_token&refresh_token=a&client_id=x'),
        ],
        [form('/application/o/device/', 'client_id=a%00'), form('/application/o/device/', 'client_id=a')],
        [get('/application/o/a%00/jwks/'), get('/application/o/a/jwks/')],
        [get('/application/o/a%00/.well-known/openid-configuration'), get('/application/o/a/.well-known/openid-configuration')],
        [get('/application/saml/a%00/metadata/'), get('/application/saml/a/metadata/')],
        [get('/source/oauth/login/a%00/'), get('/source/oauth/login/a/')],
        [get('/source/saml/a%00/'), get('/source/saml/a/')],
      ];
      for (const [withNul, unknown] of pairs) {
        const [a, b] = await Promise.all([withNul, unknown]);
        assert.ok(a.status < 500, `${a.url}: ${a.status}`);
        assert.equal(a.status, b.status, a.url);
        assert.equal(a.headers.get('content-type'), b.headers.get('content-type'), a.url);
        // (a page may quote the value it did not find)
        assert.equal((await a.text()).replaceAll('\u0000', ''), await b.text(), a.url);
      }
      const api = await call(srv, 'GET', '/flows/instances/a%00/');
      assert.deepEqual([api.status, api.body], [404, { detail: 'No Flow matches the given query.' }]);
    });

    it('a repeated query key counts once, its last value (as Django reads it); nesting past 512 levels is a parse error', async () => {
      const slugs = (await call(srv, 'GET', '/flows/instances/?ordering=slug')).body.results.map((f: { slug: string }) => f.slug);
      const repeated = await call(srv, 'GET', '/flows/instances/?ordering=slug&ordering=-slug');
      assert.equal(repeated.status, 200);
      assert.deepEqual(
        repeated.body.results.map((f: { slug: string }) => f.slug),
        [...slugs].reverse(),
      );
      const history = await call(srv, 'GET', '/admin/version/history/?ordering=version&ordering=-timestamp&build=a&build=b');
      assert.deepEqual([history.status, history.body], [200, []]);

      const nested = (n: number) => `${'['.repeat(n)}"x"${']'.repeat(n)}`;
      const groups = (await call(srv, 'GET', '/core/groups/?page_size=1')).body.pagination.count;
      const deep = await call(srv, 'POST', '/core/groups/', `{"name":"deep","attributes":{"a":${nested(5000)}}}`);
      assert.deepEqual([deep.status, deep.body], [400, { detail: 'JSON parse error - maximum recursion depth exceeded' }]);
      assert.equal((await call(srv, 'GET', '/core/groups/?page_size=1')).body.pagination.count, groups);
      // as deep as a body may be: stored and given back as sent
      const fine = await call(srv, 'POST', '/core/groups/', `{"name":"deep enough","attributes":{"a":${nested(500)}}}`);
      assert.equal(fine.status, 201);
      assert.equal(JSON.stringify(fine.body.attributes), `{"a":${nested(500)}}`);
      // the executor reads bodies the same way: too deep is as malformed (its answer to both: a flow error)
      const c = new FlowClient(srv);
      await c.get();
      const post = (body: string) => fetch(c.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      const [tooDeep, malformed] = [await post(nested(100000)), await post('{bad')];
      assert.deepEqual([tooDeep.status, ((await tooDeep.json()) as { component: string }).component], [200, 'ak-stage-flow-error']);
      assert.deepEqual([malformed.status, ((await malformed.json()) as { component: string }).component], [200, 'ak-stage-flow-error']);

      // a SCIM source's list parameters too
      const scim = await call(srv, 'POST', '/sources/scim/', { name: 'Repeat', slug: 'repeat' });
      const key = (await call(srv, 'GET', `/core/tokens/${scim.body.token_obj.identifier}/view_key/`)).body.key;
      const list = await fetch(
        `${srv.url}/source/scim/repeat/v2/Users?filter=userName%20eq%20%22x%22&filter=userName%20eq%20%22nobody%22&excludedAttributes=a&excludedAttributes=b`,
        { headers: { authorization: `Bearer ${key}` } },
      );
      assert.equal(list.status, 200);
      assert.equal(((await list.json()) as { totalResults: number }).totalResults, 0);
    });

    it("ids beyond int32 are unknown ids; `?ordering=` names only the list's own orderings", async () => {
      const lockdown = await call(srv, 'POST', '/core/users/account_lockdown/', { user: 2147483648 });
      assert.deepEqual([lockdown.status, lockdown.body], [400, { user: ['Invalid pk "2147483648" - object does not exist.'] }]);
      const explain = await call(srv, 'GET', '/flows/instances/default-authentication-flow/explain/?user=2147483648');
      assert.deepEqual([explain.status, explain.body], [400, { user: ['Invalid pk "2147483648" - object does not exist.'] }]);
      const flows = (await call(srv, 'GET', '/flows/instances/')).body.results.map((f: { slug: string }) => f.slug);
      for (const ordering of ['toString', '__proto__', 'constructor,-valueOf']) {
        const r = await call(srv, 'GET', `/flows/instances/?ordering=${ordering}`);
        assert.equal(r.status, 200, ordering);
        assert.deepEqual(
          r.body.results.map((f: { slug: string }) => f.slug),
          flows,
          'an unknown ordering falls back to the default',
        );
      }
    });
  });
}
