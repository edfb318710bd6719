/**
 * Events from HTTP requests (authentik's Event.from_http): `context.http_request` (path, method, the query's
 * arguments and a flow's wrapped `query` with credentials cleansed, user agent) and `brand` (the request's brand,
 * as authentik's model_to_dict of it: UUIDs as hex) — for a login (whose event is written in its transaction), an
 * admin write, a failed login and a policy's execution; the `brand_name` filter as authentik's.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { FlowClient } from '../helpers/flow-client.js';
import { createUser } from '../helpers/flows.js';

const hex = (uuid: string) => uuid.replaceAll('-', '');

for (const dialect of dialects()) {
  describe(`events from HTTP requests: http_request and brand (${dialect})`, () => {
    let srv: TestServer;
    let defaultBrand: { brand_uuid: string; domain: string; branding_title: string; flow_authentication: string };
    before(async () => {
      srv = await startServer(dialect, { trustedProxies: '127.0.0.1' });
      defaultBrand = (await call(srv, 'GET', '/core/brands/?default=true')).body.results[0];
      await createUser(srv, 'http-user', 'http-user-password-1');
    });
    after(async () => srv.close());

    const lastEvent = async (action: string) => {
      const e = await srv.app.store.db
        .selectFrom('events')
        .selectAll()
        .where('action', '=', action)
        .orderBy('created', 'desc')
        .executeTakeFirstOrThrow();
      return { ...e, context: JSON.parse(e.context), brand: JSON.parse(e.brand) };
    };

    it('a login: the executor request, its wrapped query cleansed, the user agent, the default brand', async () => {
      const c = new FlowClient(srv, 'default-authentication-flow', { query: 'next=/if/user/&api_key=hunter2' });
      await c.get();
      await c.post({ component: 'ak-stage-identification', uid_field: 'http-user' });
      const done = await c.post({ component: 'ak-stage-password', password: 'http-user-password-1' });
      assert.equal(done.body.component, 'xak-flow-redirect');
      const login = await lastEvent('login');
      // (authentik's protocol: the password's POST answers 302, and the GET it leads to logs in)
      assert.deepEqual(login.context.http_request, {
        path: '/api/v3/flows/executor/default-authentication-flow/',
        method: 'GET',
        args: { query: { next: '/if/user/', api_key: '********************' } },
        user_agent: 'node',
      });
      assert.equal(login.brand.brand_uuid, hex(defaultBrand.brand_uuid));
      assert.equal(login.brand.domain, defaultBrand.domain);
      assert.equal(login.brand.branding_title, defaultBrand.branding_title);
      assert.equal(login.brand.flow_authentication, hex(defaultBrand.flow_authentication));
      // served by the API as stored
      const listed = (await call(srv, 'GET', `/events/events/${login.event_uuid}/`)).body;
      assert.deepEqual(listed.brand, login.brand);
      assert.deepEqual(listed.context.http_request, login.context.http_request);

      await new FlowClient(srv).get();
      const failed = new FlowClient(srv);
      await failed.get();
      await failed.post({ component: 'ak-stage-identification', uid_field: 'http-user' });
      await failed.post({ component: 'ak-stage-password', password: 'wrong' });
      const refused = await lastEvent('login_failed');
      assert.equal(refused.context.http_request.method, 'POST');
      assert.equal(refused.brand.domain, defaultBrand.domain);
    });

    it('an admin write through another brand’s domain records that brand; brand_name matches as authentik’s', async () => {
      const other = await call(srv, 'POST', '/core/brands/', { domain: 'other.example', branding_title: 'Other' });
      assert.equal(other.status, 201, JSON.stringify(other.body));
      const made = await call(
        srv,
        'POST',
        '/core/groups/?origin=test&token=abc',
        { name: 'http-group' },
        {
          'x-forwarded-host': 'other.example',
          'user-agent': 'keystage-test/1',
        },
      );
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const created = await lastEvent('model_created');
      assert.deepEqual(created.context.http_request, {
        path: '/api/v3/core/groups/',
        method: 'POST',
        args: { origin: 'test', token: '********************' },
        user_agent: 'keystage-test/1',
      });
      assert.deepEqual([created.brand.domain, created.brand.branding_title, created.brand.default], ['other.example', 'Other', false]);
      assert.equal(created.brand.brand_uuid, hex(other.body.brand_uuid));
      // authentik's brand_name filters the `name` in the brand, which a brand's fields do not have
      const unnamed = await call(srv, 'GET', '/events/events/?brand_name=Other');
      assert.deepEqual([unnamed.status, unnamed.body.pagination.count], [200, 0]);
      await srv.app.store.db
        .updateTable('events')
        .set({ brand: JSON.stringify({ name: 'named' }) })
        .where('event_uuid', '=', created.event_uuid)
        .execute();
      const named = await call(srv, 'GET', '/events/events/?brand_name=named');
      assert.deepEqual(
        named.body.results.map((e: { pk: string }) => e.pk),
        [created.event_uuid],
      );
    });

    it('a policy’s execution event carries the request it ran for', async () => {
      const policy = await call(srv, 'POST', '/policies/dummy/', {
        name: 'http-logged',
        result: true,
        execution_logging: true,
        wait_min: 0,
        wait_max: 0,
      });
      const flow = (await call(srv, 'GET', '/flows/instances/default-authentication-flow/')).body.pk;
      const b = await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: policy.body.pk, order: 99 });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      try {
        await new FlowClient(srv).get();
        const run = await lastEvent('policy_execution');
        assert.equal(run.context.http_request.path, '/api/v3/flows/executor/default-authentication-flow/');
        assert.equal(run.context.http_request.method, 'GET');
        assert.equal(run.brand.domain, defaultBrand.domain);
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${b.body.pk}/`);
      }
    });

    it('every event’s context is cleansed of what names a credential, at any depth, as authentik’s cleanse_dict', async () => {
      const policy = await call(srv, 'POST', '/policies/expression/', {
        name: 'http-cleansed',
        execution_logging: true,
        expression: [
          'ak_create_event("cleanse", complex={"password": "p4ss", "items": [{"api_key": "k3y"}, "plain"], "passing": True, "note": "kept"}, client_secret="s3cret", tokens=["t1", "t2"])',
          'return True',
        ].join('\n'),
      });
      assert.equal(policy.status, 201, JSON.stringify(policy.body));
      const flow = (await call(srv, 'GET', '/flows/instances/default-authentication-flow/')).body.pk;
      const b = await call(srv, 'POST', '/policies/bindings/', { target: flow, policy: policy.body.pk, order: 98 });
      assert.equal(b.status, 201, JSON.stringify(b.body));
      const hidden = '********************';
      try {
        await new FlowClient(srv).get();
        const created = await lastEvent('custom_cleanse');
        const { http_request: _http, ...context } = created.context;
        assert.deepEqual(context, {
          complex: { password: hidden, items: [{ api_key: hidden }, 'plain'], passing: true, note: 'kept' },
          client_secret: hidden,
          tokens: [hidden, hidden],
        });
        const run = await lastEvent('policy_execution');
        assert.deepEqual(run.context.result, { passing: true, messages: [] });
        assert.equal(JSON.stringify(run.context).includes('s3cret'), false);
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${b.body.pk}/`);
      }
    });
  });
}
