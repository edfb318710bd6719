/**
 * Security: random walks through every flow Keystage installs, anonymous and logged in. At each challenge the
 * response is generated from that challenge's own response schema in the served OpenAPI document (plus a prompt
 * stage's field keys): typed values, wrong types, U+0000, prototype names. Whatever arrives, the executor answers 200
 * with a challenge, and never a flow error (which would mean a failure inside a stage, not a refused answer).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { call, dialects, startServer, ADMIN_PASSWORD, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { HOSTILE_TEXT } from '../helpers/hostile.js';

type Schema = Record<string, any>;

const ODD = [...HOSTILE_TEXT, '123456', 'totp', 'static', 'a@b.c', '{}'];

for (const dialect of dialects()) {
  describe(`security: random walks through every installed flow (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect, { lockout: { accountIpLimit: 1e6, accountLimit: 1e6, ipLimit: 1e6, slowAfter: 1e6 } });
    });
    after(async () => srv?.close());

    it('every answer is 200 with a challenge, never a flow error', async () => {
      const schemas = (await call(srv, 'GET', '/schema/?format=json')).body.components.schemas as Record<string, Schema>;
      const responses = new Map<string, Schema>();
      for (const [name, s] of Object.entries(schemas))
        if (name.endsWith('ChallengeResponseRequest') && s.properties?.component?.default) responses.set(s.properties.component.default, s);
      const deref = (x: Schema | undefined): Schema => (x?.$ref ? deref(schemas[String(x.$ref).split('/').pop()!]) : (x ?? {}));
      const odd = fc.constantFrom(...ODD);
      const value = (raw: Schema | undefined, depth: number): fc.Arbitrary<unknown> => {
        const s = deref(raw);
        const type = Array.isArray(s.type) ? s.type[0] : s.type;
        let typed: fc.Arbitrary<unknown>;
        if (s.enum) typed = fc.constantFrom(...(s.enum as unknown[]));
        else if (type === 'string') typed = fc.oneof(fc.string({ maxLength: 20 }), odd);
        else if (type === 'integer' || type === 'number') typed = fc.oneof(fc.integer(), fc.constantFrom(2147483648, -1));
        else if (type === 'boolean') typed = fc.boolean();
        else if (type === 'array') typed = depth > 2 ? fc.constant([]) : fc.array(value(s.items, depth + 1), { maxLength: 3 });
        else if (type === 'object' && s.properties && depth < 3) typed = object(s, depth + 1);
        else typed = fc.jsonValue({ maxDepth: 2 });
        return fc.oneof(
          { weight: 4, arbitrary: typed },
          { weight: 1, arbitrary: fc.oneof(fc.jsonValue({ maxDepth: 2 }), odd, fc.constant(null)) },
        );
      };
      const object = (raw: Schema, depth = 0): fc.Arbitrary<Record<string, unknown>> => {
        const props = (deref(raw).properties ?? {}) as Record<string, Schema>;
        const keys = Object.keys(props).filter((k) => !props[k]!.readOnly && k !== 'component');
        return fc.record(Object.fromEntries(keys.map((k) => [k, value(props[k], depth)])), { requiredKeys: [] });
      };

      // a walker of its own per logged-in walk (a walk through the lockdown flow locks its walker)
      const admins = (await call(srv, 'GET', '/core/groups/?name=authentik%20Admins')).body.results.map((g: { pk: string }) => g.pk);
      let walkers = 0;
      const loggedIn = async (): Promise<FlowClient> => {
        const username = `walker${++walkers}`;
        const u = await call(srv, 'POST', '/core/users/', { username, name: username, email: `${username}@example.org`, groups: admins });
        assert.equal(u.status, 201);
        assert.equal((await call(srv, 'POST', `/core/users/${u.body.pk}/set_password/`, { password: ADMIN_PASSWORD })).status, 204);
        const c = new FlowClient(srv);
        await c.get();
        await c.post({ component: 'ak-stage-identification', uid_field: username });
        assert.equal((await c.post({ component: 'ak-stage-password', password: ADMIN_PASSWORD })).body.component, 'xak-flow-redirect');
        return c;
      };

      const slugs = (await call(srv, 'GET', '/flows/instances/?page_size=100')).body.results.map(
        (f: { slug: string }) => f.slug,
      ) as string[];
      assert.ok(slugs.length >= 10, slugs.join());
      const seen = new Set<string>();
      const failures: string[] = [];
      for (const slug of slugs)
        for (const asUser of [false, true])
          for (let walk = 0; walk < 3; walk++) {
            const c = new FlowClient(srv, slug);
            if (asUser) for (const [k, v] of (await loggedIn()).cookies) c.cookies.set(k, v);
            let r = await c.get();
            for (let step = 0; step < 6; step++) {
              const component = r.body?.component as string | undefined;
              if (r.status !== 200 || !component || component === 'ak-stage-flow-error') {
                failures.push(
                  `${slug} (${asUser ? 'user' : 'anonymous'}) step ${step}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`,
                );
                break;
              }
              seen.add(component);
              if (component.startsWith('xak-') || component === 'ak-stage-access-denied') break;
              const fieldKeys = ((r.body.fields ?? []) as { field_key: string }[]).map((f) => f.field_key);
              const arb = fc.tuple(
                responses.has(component) ? object(responses.get(component)!) : fc.constant({}),
                fc.record(Object.fromEntries(fieldKeys.map((k) => [k, fc.oneof(odd, fc.string({ maxLength: 10 }))])), { requiredKeys: [] }),
              );
              const [typed, fields] = fc.sample(arb, { numRuns: 1, seed: 20261207 + walk * 10 + step })[0]!;
              r = await c.request('POST', { ...fields, ...typed, component });
            }
          }
      assert.deepEqual(failures, []);
      // the walks reached the stages behind the first one, not only the door
      for (const c of [
        'ak-stage-identification',
        'ak-stage-password',
        'ak-stage-prompt',
        'ak-stage-consent',
        'ak-stage-authenticator-totp',
      ])
        assert.ok(seen.has(c), `no walk reached ${c}: ${[...seen].join(', ')}`);
    });
  });
}
