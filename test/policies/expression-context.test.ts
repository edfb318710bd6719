/**
 * What an expression policy reaches through the real host, evaluated where authentik evaluates it:
 * - `ak_create_event(action, **kwargs)` during a flow writes an event, as authentik's `expr_event_create` does:
 *   the action prefixed with `custom_` (Event.new prefixes any action that is not an EventAction member, so an
 *   expression cannot write a `login` event), the app the policy's name, the keyword arguments in the context;
 * - `ak_user_has_authenticator(user, device_type=None)`: any confirmed device, or one of the class named
 *   (authentik compares the device model's name without "device": `totp`, `static`, `webauthn`, …);
 * - a policy bound to an application and asked through `check_access` sees the application as `request.obj`
 *   (authentik's PolicyEngine(application, …)); one bound to the provider's authorization flow, started by an
 *   OAuth2 authorization request, sees it as `request.context["application"]` (authentik's PLAN_CONTEXT_APPLICATION).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { addTotpDevice } from '../helpers/devices.js';
import { Browser, PASSWORD } from '../providers/oauth2/browser.js';

const REDIRECT = 'http://127.0.0.1:9/cb';

interface EventRow {
  action: string;
  app: string;
  context: Record<string, unknown>;
}

for (const dialect of dialects()) {
  describe(`expression context through the real host (${dialect})`, () => {
    let srv: TestServer;
    let ann: number;
    const expression = async (source: string, name = `ctx-${randomUUID()}`) => {
      const r = await call(srv, 'POST', '/policies/expression/', { name, expression: source });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const bind = async (target: string, policy: string) => {
      const r = await call(srv, 'POST', '/policies/bindings/', { target, policy, order: 0, timeout: 10 });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.pk as string;
    };
    const events = async (action: string): Promise<EventRow[]> =>
      ((await call(srv, 'GET', `/events/events/?action=${action}&page_size=100`)).body.results as EventRow[]).filter(
        (e) => e.action === action,
      );

    before(async () => {
      srv = await startServer(dialect);
      ann = await createUser(srv, 'ann', PASSWORD);
    });
    after(async () => srv.close());

    it('ak_create_event in a flow policy writes a custom_ event, named after the policy, with its arguments', async () => {
      const stages = await defaultStages(srv);
      const slug = await flowOf(srv, 'ctx-event-flow', [stages.identification]);
      const flow = (await call(srv, 'GET', `/flows/instances/${slug}/`)).body.pk;
      const name = 'ctx-event-policy';
      const binding = await bind(
        flow,
        await expression('ak_create_event("custom_action", detail="value", n=3)\nak_create_event("login")\nreturn True', name),
      );
      const loginsBefore = (await events('login')).length;
      assert.equal((await new BrowserSession(srv).get(slug)).component, 'ak-stage-identification', 'the policy passed');

      const written = await events('custom_custom_action');
      assert.equal(written.length, 1, 'authentik prefixes the action: custom_ + "custom_action"');
      assert.equal(written[0]!.app, name, 'the app is the policy’s name (the evaluator’s filename)');
      assert.equal(written[0]!.context.detail, 'value');
      assert.equal(written[0]!.context.n, 3);
      assert.equal((await events('custom_action')).length, 0, 'not written unprefixed');
      assert.equal((await events('custom_login')).length, 1, 'ak_create_event("login") is a custom_login event');
      assert.equal((await events('login')).length, loginsBefore, 'an expression cannot write a login event');

      // a test evaluation (debug) writes nothing, as authentik's
      const policy = (await call(srv, 'GET', `/policies/bindings/${binding}/`)).body.policy;
      assert.equal((await call(srv, 'POST', `/policies/all/${policy}/test/`, { user: ann })).body.passing, true);
      assert.equal((await events('custom_custom_action')).length, 1);
      await call(srv, 'DELETE', `/policies/bindings/${binding}/`);
    });

    it('ak_user_has_authenticator: any confirmed device, or of the type named', async () => {
      const bea = await createUser(srv, 'bea', 'bea-password-1');
      await addTotpDevice(srv.app.store.db, ann);
      await addTotpDevice(srv.app.store.db, bea, { confirmed: false });
      const any = await expression('return ak_user_has_authenticator(request.user)');
      const isTotp = await expression('return ak_user_has_authenticator(request.user, device_type="totp")');
      const isWebauthn = await expression('return ak_user_has_authenticator(request.user, device_type="webauthn")');
      const isStatic = await expression('return ak_user_has_authenticator(request.user, "static")');
      const test = async (pk: string, user: number) => {
        const r = await call(srv, 'POST', `/policies/all/${pk}/test/`, { user });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        return r.body.passing as boolean;
      };
      assert.equal(await test(any, ann), true, 'a TOTP device');
      assert.equal(await test(isTotp, ann), true, 'of type totp');
      assert.equal(await test(isWebauthn, ann), false, 'none of type webauthn');
      assert.equal(await test(isStatic, ann), false, 'none of type static');
      assert.equal(await test(any, bea), false, 'an unconfirmed device does not count');
      assert.equal(await test(isTotp, bea), false);
    });

    it('bound to an application: check_access shows it as request.obj; its authorization flow sees context["application"]', async () => {
      const flows = Object.fromEntries(
        (await call(srv, 'GET', '/flows/instances/?page_size=100')).body.results.map((f: { slug: string; pk: string }) => [f.slug, f.pk]),
      );
      const authz = 'default-provider-authorization-implicit-consent';
      const p = await call(srv, 'POST', '/providers/oauth2/', {
        name: 'ctx-provider',
        authorization_flow: flows[authz],
        invalidation_flow: flows['default-provider-invalidation-flow'],
        redirect_uris: [{ matching_mode: 'strict', url: REDIRECT }],
      });
      assert.equal(p.status, 201, JSON.stringify(p.body));
      const app = await call(srv, 'POST', '/core/applications/', { name: 'Context App', slug: 'ctx-app', provider: p.body.pk });
      assert.equal(app.status, 201, JSON.stringify(app.body));

      // the application's own policy: request.obj is the application
      const appPolicy = await expression(
        'ak_message("obj: %s %s" % (request.obj.slug, request.obj.name))\nreturn request.obj.slug == "ctx-app"',
      );
      const appBinding = await bind(app.body.pk, appPolicy);
      const check = await call(srv, 'GET', `/core/applications/ctx-app/check_access/?for_user=${ann}`);
      assert.equal(check.status, 200, JSON.stringify(check.body));
      assert.equal(check.body.passing, true, JSON.stringify(check.body));
      assert.deepEqual(check.body.messages, ['obj: ctx-app Context App']);
      await call(srv, 'DELETE', `/policies/bindings/${appBinding}/`);

      // the authorization flow's policy: the plan's context names the application
      const flowPolicy = await expression(
        'app = request.context["application"]\nak_create_event("seen_application", slug=app.slug, name=app.name)\nreturn app.slug == "ctx-app"',
      );
      const flowBinding = await bind(flows[authz], flowPolicy);
      try {
        await createUser(srv, 'cid', PASSWORD); // no device: the login needs no second factor
        const b = new Browser(srv);
        assert.equal((await b.login('cid', '')).component, 'xak-flow-redirect');
        const url = new URL(`${srv.url}/application/o/authorize/`);
        for (const [k, v] of Object.entries({
          client_id: p.body.client_id,
          redirect_uri: REDIRECT,
          response_type: 'code',
          scope: 'openid',
          state: 'ctx-state',
        }))
          url.searchParams.set(k, v);
        const landed = await b.authorize(url);
        assert.equal(landed.origin + landed.pathname, REDIRECT, landed.toString());
        assert.ok(landed.searchParams.get('code'), 'authorized: the flow applied');
        const seen = await events('custom_seen_application');
        assert.equal(seen.length, 1);
        assert.deepEqual([seen[0]!.context.slug, seen[0]!.context.name], ['ctx-app', 'Context App']);
      } finally {
        await call(srv, 'DELETE', `/policies/bindings/${flowBinding}/`);
      }
    });
  });
}
