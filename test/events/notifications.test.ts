/**
 * Notifications as authentik's: a rule whose bound event matcher policy passes for an event notifies its recipients
 * (the destination group's members, the event's user) through each transport — the inbox, a generic webhook (default
 * body, or the body and headers mappings' dicts), a Slack webhook, e-mail — once per recipient or once for a
 * `send_once` transport. Webhooks and SMTP are fake servers on 127.0.0.1.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { EventsApi } from '@goauthentik/api/dist/apis/EventsApi.js';
import { PoliciesApi } from '@goauthentik/api/dist/apis/PoliciesApi.js';
import { call, dialects, type TestServer } from '../helpers/server.js';
import type { SmtpSink } from '../helpers/fake-providers.js';
import { decoded, emailServer, mailTo } from '../stages/email/helpers.js';
import { callAs, createUser, tokenFor } from '../groups/setup.js';
import { buildSelfSigned } from '../../src/crypto/x509.js';

interface Hit {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: any;
}

/** a webhook receiver: records each POST, answers `status` */
class Hooks {
  readonly hits: Hit[] = [];
  status = 200;
  url = '';
  private server = http.createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    this.hits.push({ path: req.url ?? '', headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null') });
    res.writeHead(this.status, { 'content-type': 'text/plain' }).end(this.status < 400 ? 'ok' : 'refused');
  });
  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }
  async close() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}

/** waits (bounded) until `ready()` holds: notifications are sent after the request that recorded the event */
async function until<T>(what: string, ready: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await ready();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const dialect of dialects()) {
  describe(`notifications (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    let hooks: Hooks;
    let events: EventsApi;
    let policies: PoliciesApi;
    let alice: number;
    let bob: number;
    let aliceToken: string;
    let group: string;

    before(async () => {
      ({ srv, smtp } = await emailServer(dialect));
      hooks = await new Hooks().start();
      const cfg = new Configuration({ basePath: srv.api, accessToken: srv.token });
      events = new EventsApi(cfg);
      policies = new PoliciesApi(cfg);
      alice = await createUser(srv, 'n-alice');
      bob = await createUser(srv, 'n-bob');
      aliceToken = await tokenFor(srv, alice, 'alice-notify-key-0123456789abcdefghij');
      group = (await call(srv, 'POST', '/core/groups/', { name: 'n-oncall', users: [alice, bob] })).body.pk;
    });
    after(async () => {
      await srv.close();
      await hooks.close();
      await smtp.close();
    });

    it("transports: authentik's fields and validation, and the test action", async () => {
      const local = await events.eventsTransportsCreate({ notificationTransportRequest: { name: 'n-local' } });
      assert.deepEqual(
        [local.mode, local.modeVerbose, local.sendOnce, local.emailSubjectPrefix],
        ['local', 'authentik inbuilt notifications', false, 'authentik Notification: '],
      );
      const missing = await call(srv, 'POST', '/events/transports/', { name: 'n-nourl', mode: 'webhook' });
      assert.deepEqual([missing.status, missing.body], [400, { webhook_url: ['Webhook URL may not be empty.'] }]);
      assert.equal((await call(srv, 'GET', '/events/transports/?name=n-nourl')).body.pagination.count, 0);
      const hook = await call(srv, 'POST', '/events/transports/', {
        name: 'n-test-hook',
        mode: 'webhook',
        webhook_url: `${hooks.url}/test`,
      });
      assert.equal(hook.status, 201, JSON.stringify(hook.body));
      const tested = await events.eventsTransportsTestCreate({ uuid: hook.body.pk });
      assert.deepEqual(tested.messages, ['200', 'ok']);
      const hit = hooks.hits.find((h) => h.path === '/test')!;
      const me = (await call(srv, 'GET', '/core/users/me/')).body.user;
      assert.deepEqual(hit.body, {
        body: 'Test Notification from transport n-test-hook',
        severity: 'notice',
        user_email: me.email,
        user_username: 'akadmin',
        event_user_email: me.email,
        event_user_username: 'akadmin',
      });
      hooks.status = 500;
      const failed = await call(srv, 'POST', `/events/transports/${hook.body.pk}/test/`);
      assert.deepEqual([failed.status, failed.body], [400, { non_field_errors: ['refused'] }]);
      hooks.status = 200;
      // a local transport's test lands in the caller's inbox
      await call(srv, 'POST', `/events/transports/${local.pk}/test/`);
      const inbox = await call(srv, 'GET', '/events/notifications/?search=n-local');
      assert.equal(inbox.body.pagination.count, 1);
      assert.equal(inbox.body.results[0].body, 'Test Notification from transport n-local');
    });

    it('a rule notifies its group through each transport when its event matcher passes', async () => {
      const matcher = await policies.policiesEventMatcherCreate({
        eventMatcherPolicyRequest: { name: 'n-group-created', action: 'model_created' as never, model: 'authentik_core.group' as never },
      });
      const local = (await call(srv, 'GET', '/events/transports/?name=n-local')).body.results[0].pk;
      const once = (
        await call(srv, 'POST', '/events/transports/', {
          name: 'n-once',
          mode: 'webhook',
          webhook_url: `${hooks.url}/once`,
          send_once: true,
        })
      ).body.pk;
      const slack = (
        await call(srv, 'POST', '/events/transports/', { name: 'n-slack', mode: 'webhook_slack', webhook_url: `${hooks.url}/slack` })
      ).body.pk;
      const mail = (await call(srv, 'POST', '/events/transports/', { name: 'n-mail', mode: 'email' })).body.pk;
      const rule = await events.eventsRulesCreate({
        notificationRuleRequest: {
          name: 'n-groups',
          transports: [local, once, slack, mail],
          severity: 'warning' as never,
          destinationGroup: group,
        },
      });
      assert.equal(rule.destinationGroupObj?.name, 'n-oncall');
      // a rule without bindings never fires
      await call(srv, 'POST', '/core/groups/', { name: 'n-before-binding' });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(hooks.hits.filter((h) => h.path === '/once').length, 0);
      const bound = await call(srv, 'POST', '/policies/bindings/', { target: rule.pk, policy: matcher.pk, order: 0 });
      assert.equal(bound.status, 201, JSON.stringify(bound.body));
      // something else happening: no notification
      await call(srv, 'POST', '/stages/dummy/', { name: 'n-not-a-group' });
      // a group created: every member notified
      const g = (await call(srv, 'POST', '/core/groups/', { name: 'n-new-team' })).body;
      const mine = await until("alice's notification", async () => {
        const r = await callAs(srv, aliceToken, 'GET', '/events/notifications/');
        return r.body.pagination.count >= 1 ? r.body.results : undefined;
      });
      assert.equal(mine.length, 1);
      assert.equal(mine[0].severity, 'warning');
      assert.equal(mine[0].seen, false);
      assert.equal(mine[0].event.action, 'model_created');
      assert.equal(mine[0].event.context.model.pk, g.pk);
      assert.deepEqual(mine[0].event.context.model.app, 'authentik_core');
      // the body of an event without a message: authentik's summary, the context as Python prints a dict
      assert.match(mine[0].body, /^model_created: \{.*'model': \{'app': 'authentik_core', /);
      assert.ok(mine[0].body.includes(`'name': 'n-new-team'`), mine[0].body);
      // send_once: one webhook call for two recipients; Slack and e-mail: one each
      await until('the webhooks', () => (hooks.hits.filter((h) => h.path === '/slack').length >= 2 ? true : undefined));
      assert.equal(hooks.hits.filter((h) => h.path === '/once').length, 1);
      const slackBody = hooks.hits.find((h) => h.path === '/slack')!.body;
      assert.equal(slackBody.attachments[0].title, 'model_created');
      assert.deepEqual(slackBody.attachments[0].fields.slice(0, 1), [{ title: 'Severity', value: 'warning', short: true }]);
      const m = await mailTo(smtp, 'n-bob@example.com');
      assert.match(decoded(m), /Subject: authentik Notification: model_created/);
      assert.equal((await call(srv, 'GET', `/events/notifications/?user=${bob}`)).body.pagination.count, 0, 'an admin sees only their own');
      // marking seen
      const one = await callAs(srv, aliceToken, 'PATCH', `/events/notifications/${mine[0].pk}/`, { seen: true });
      assert.equal(one.body.seen, true);
      assert.equal((await callAs(srv, aliceToken, 'GET', '/events/notifications/?seen=false')).body.pagination.count, 0);
      // bob cannot see or touch alice's
      const bobToken = await tokenFor(srv, bob, 'bob-notify-key-0123456789abcdefghijkl');
      assert.equal((await callAs(srv, bobToken, 'GET', `/events/notifications/${mine[0].pk}/`)).status, 404);
      assert.equal((await callAs(srv, bobToken, 'POST', '/events/notifications/mark_all_seen/')).status, 204);
      assert.equal((await callAs(srv, bobToken, 'GET', '/events/notifications/?seen=false')).body.pagination.count, 0);
      await call(srv, 'DELETE', `/events/rules/${rule.pk}/`);
    });

    it('webhook mappings shape body and headers; the event user is notified; a failing transport is recorded, not looped', async () => {
      const body = await call(srv, 'POST', '/propertymappings/notification/', {
        name: 'n-body',
        expression: 'return {"text": notification["body"], "who": notification["user"]["username"]}',
      });
      assert.equal(body.status, 201, JSON.stringify(body.body));
      const headers = await call(srv, 'POST', '/propertymappings/notification/', {
        name: 'n-headers',
        expression: 'return {"X-Token": "t0k"}',
      });
      const mapped = (
        await call(srv, 'POST', '/events/transports/', {
          name: 'n-mapped',
          mode: 'webhook',
          webhook_url: `${hooks.url}/mapped`,
          webhook_mapping_body: body.body.pk,
          webhook_mapping_headers: headers.body.pk,
        })
      ).body.pk;
      const broken = (
        await call(srv, 'POST', '/events/transports/', { name: 'n-broken', mode: 'webhook', webhook_url: 'http://127.0.0.1:9/' })
      ).body.pk;
      const matcher = (await call(srv, 'POST', '/policies/event_matcher/', { name: 'n-password-set', action: 'password_set' })).body;
      const rule = (
        await call(srv, 'POST', '/events/rules/', { name: 'n-passwords', transports: [mapped, broken], destination_event_user: true })
      ).body;
      await call(srv, 'POST', '/policies/bindings/', { target: rule.pk, policy: matcher.pk, order: 0 });
      await call(srv, 'POST', `/core/users/${alice}/set_password/`, { password: 'a long enough password 9' });
      const hit = await until('the mapped webhook', () => hooks.hits.find((h) => h.path === '/mapped'));
      assert.equal(hit.headers['x-token'], 't0k');
      assert.equal(hit.body.who, 'akadmin', 'the event user (who set the password) is the recipient');
      const errors = await until('the transport failure', async () => {
        const r = await call(srv, 'GET', '/events/events/?actions=configuration_error&page_size=50');
        const mine = r.body.results.filter((e: any) => e.context.notification_transport?.name === 'n-broken');
        return mine.length ? mine : undefined;
      });
      assert.equal(errors.length, 1);
      assert.match(errors[0].context.message, /^Notification transport n-broken failed: /);
      await call(srv, 'DELETE', `/events/rules/${rule.pk}/`);
    });

    it('webhook_ca: the webhook server is checked against that certificate, and only it', async () => {
      const pair = await buildSelfSigned({ commonName: 'localhost', subjectAltNames: ['localhost'], alg: 'ecdsa' });
      const other = await buildSelfSigned({ commonName: 'localhost', subjectAltNames: ['localhost'], alg: 'ecdsa' });
      const bodies: unknown[] = [];
      const server = https.createServer({ key: pair.privateKey, cert: pair.certificate }, async (req, res) => {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        res.writeHead(200).end('secure ok');
      });
      await new Promise<void>((r) => server.listen(0, 'localhost', r));
      try {
        const url = `https://localhost:${(server.address() as AddressInfo).port}/`;
        const kp = async (name: string, cert: string) =>
          (await call(srv, 'POST', '/crypto/certificatekeypairs/', { name, certificate_data: cert })).body.pk;
        const right = await kp('n-webhook-ca', pair.certificate);
        const wrong = await kp('n-other-ca', other.certificate);
        const make = async (name: string, ca: string | null) =>
          (await call(srv, 'POST', '/events/transports/', { name, mode: 'webhook', webhook_url: url, webhook_ca: ca })).body.pk;
        const trusted = await make('n-ca-right', right);
        const ok = await call(srv, 'POST', `/events/transports/${trusted}/test/`);
        assert.deepEqual([ok.status, ok.body], [200, { messages: ['200', 'secure ok'] }]);
        for (const t of [await make('n-ca-none', null), await make('n-ca-wrong', wrong)]) {
          const r = await call(srv, 'POST', `/events/transports/${t}/test/`);
          assert.equal(r.status, 400, JSON.stringify(r.body));
          assert.match(r.body.non_field_errors[0], /certificate/i);
        }
        assert.equal(bodies.length, 1);
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    it('the event actions a matcher can name: /events/events/actions/', async () => {
      const actions = await events.eventsEventsActionsList();
      const byComponent = new Map(actions.map((a) => [a.component, a.name]));
      assert.equal(byComponent.get('login_failed'), 'Login Failed');
      assert.equal(byComponent.get('model_created'), 'Model Created');
      assert.equal(byComponent.get('custom_'), 'Custom Prefix');
      assert.equal((await callAs(srv, aliceToken, 'GET', '/events/events/actions/')).status, 403);
    });

    it('an event query (authentik’s query language over events) narrows what a rule’s matcher passes', async () => {
      const matcher = await call(srv, 'POST', '/policies/event_matcher/', {
        name: 'n-query-teams',
        query: 'context.model.name startswith "q-team" and context.model.app = "authentik_core" and user.username != "nobody"',
        action: 'model_created',
      });
      assert.equal(matcher.status, 201, JSON.stringify(matcher.body));
      const local = (await call(srv, 'GET', '/events/transports/?name=n-local')).body.results[0].pk;
      const rule = (await call(srv, 'POST', '/events/rules/', { name: 'n-query-rule', transports: [local], destination_group: group }))
        .body;
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: rule.pk, policy: matcher.body.pk, order: 0 })).status, 201);
      const inbox = async () =>
        ((await callAs(srv, aliceToken, 'GET', '/events/notifications/?page_size=100')).body.results as { event: { context: any } }[])
          .map((n) => n.event.context.model?.name)
          .filter((n) => typeof n === 'string' && n.startsWith('q-'));
      // a group not named so: nothing; one that is: notified
      await call(srv, 'POST', '/core/groups/', { name: 'q-other' });
      await call(srv, 'POST', '/core/groups/', { name: 'q-team-red' });
      assert.deepEqual(await until('the matching notification', async () => ((await inbox()).length ? inbox() : undefined)), [
        'q-team-red',
      ]);
      await new Promise((r) => setTimeout(r, 200));
      assert.deepEqual(await inbox(), ['q-team-red'], 'q-other did not match');
      // the policy's test with an event in the context: each criterion's message, the query first
      const test = (event: Record<string, unknown>) =>
        call(srv, 'POST', `/policies/all/${matcher.body.pk}/test/`, { user: alice, context: { event } });
      const event = {
        pk: '2f1c3b52-53a4-4c2e-9b4e-0a0d5c8f9e11',
        action: 'model_created',
        app: 'authentik.core',
        user: { pk: 1, username: 'akadmin' },
        context: { model: { app: 'authentik_core', model_name: 'group', name: 'q-team-blue' } },
        client_ip: '127.0.0.1',
        created: new Date().toISOString(),
        brand: {},
      };
      const yes = await test(event);
      assert.deepEqual([yes.status, yes.body.passing, yes.body.messages], [200, true, ['Query matched.', 'Action matched.']]);
      const no = await test({ ...event, context: { model: { app: 'authentik_core', name: 'blue-q-team' } } });
      assert.deepEqual([no.status, no.body.passing], [200, false]);
      // the list's search takes the same language
      const found = await call(srv, 'GET', `/events/events/?search=${encodeURIComponent('context.model.name = "q-team-red"')}`);
      assert.equal(found.status, 200);
      assert.deepEqual(
        found.body.results.map((e: { action: string; context: { model: { name: string } } }) => [e.action, e.context.model.name]),
        [['model_created', 'q-team-red']],
      );
      await call(srv, 'DELETE', `/events/rules/${rule.pk}/`);
    });

    it('bad input: invalid event queries refused, choices checked, nothing written', async () => {
      for (const [query, message] of [
        ['flavour = "mint"', 'Invalid query: Unknown field: flavour'],
        ['action = ', null],
        ['', null],
      ] as const) {
        const q = await call(srv, 'POST', '/policies/event_matcher/', { name: 'n-query', query });
        assert.equal(q.status, 400, JSON.stringify(q.body));
        assert.deepEqual(Object.keys(q.body), ['query']);
        if (message) assert.deepEqual(q.body.query, [message]);
      }
      const a = await call(srv, 'POST', '/policies/event_matcher/', { name: 'n-bad-action', action: 'flying' });
      assert.deepEqual([a.status, a.body], [400, { action: ['"flying" is not a valid choice.'] }]);
      const r = await call(srv, 'POST', '/events/rules/', { name: 'n-bad', severity: 'panic' });
      assert.deepEqual([r.status, r.body], [400, { severity: ['"panic" is not a valid choice.'] }]);
      assert.equal((await call(srv, 'GET', '/policies/event_matcher/?name=n-query')).body.pagination.count, 0);
    });
  });
}
