/**
 * Access requests (authentik's enterprise `requests` app, its test_grant_requests*.py scenarios): rules, rule
 * bindings and child bindings through the official client; what a person may request (`requestable` lists, refusals
 * by message); the request flow — the brand's `flow_request` with a prompt for the justification — ending in the
 * grant request; reviewers finding and deciding it (`pending_review`, `fulfill`), the grant as an expiring policy
 * binding that opens the application and closes again when revoked; `min_reviewers` with parallel approvals
 * finalising once; cancelling; visibility; refusals (own request, agents); the events.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Configuration } from '@goauthentik/api/dist/runtime.js';
import { RequestsApi } from '@goauthentik/api/dist/apis/RequestsApi.js';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { createStage, createUser, flowOf, loggedIn } from '../helpers/flows.js';
import type { Browser } from '../helpers/browser.js';
import { assertMatches } from '../helpers/openapi-schema.js';
import { body } from '../rest/contract/client.js';
import { failUpdatesOf } from '../helpers/faults.js';

const PASSWORD = 'a long password for access requests';

for (const dialect of dialects()) {
  describe(`access requests (${dialect})`, () => {
    let srv: TestServer;
    let requests: RequestsApi;
    let app: { pk: string; slug: string };
    let editor: string;
    let rule: { uuid: string; pbm_uuid: string };
    let ruleBinding: { uuid: string; pbm_uuid: string };
    const ids: Record<string, number> = {};
    const sessions: Record<string, Browser> = {};

    const api = async (who: string, method: string, path: string, payload?: unknown) => {
      const r = await sessions[who]!.fetch(path, {
        method,
        ...(payload !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) } : {}),
      });
      return { status: r.status, body: r.body };
    };
    const access = async (user: string, slug = app.slug) =>
      (await call(srv, 'GET', `/core/applications/${slug}/check_access/?for_user=${ids[user]}`)).body.passing as boolean;
    const row = (uuid: string) =>
      srv.app.store.db.selectFrom('grant_requests').selectAll().where('uuid', '=', uuid).executeTakeFirstOrThrow();
    /** `who` asks for `pbms` and runs the request flow with a reason; returns the new request's uuid */
    const request = async (who: string, pbms: string[], reason: string, expiry?: string) => {
      const r = await api(who, 'POST', '/requests/grant-requests/', { pbms, ...(expiry ? { expiry } : {}) });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body, { link: '/if/flow/access-request/' });
      const b = sessions[who]!;
      const first = await b.get('access-request');
      assert.equal(first.body.component, 'ak-stage-prompt', JSON.stringify(first.body));
      const done = await b.solve('access-request', { component: 'ak-stage-prompt', reason } as never);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      const made = await srv.app.store.db
        .selectFrom('grant_requests')
        .select('uuid')
        .where('created_by', '=', ids[who]!)
        .orderBy('created', 'desc')
        .executeTakeFirstOrThrow();
      return made.uuid;
    };

    before(async () => {
      srv = await startServer(dialect);
      requests = new RequestsApi(new Configuration({ basePath: srv.api, headers: { authorization: `Bearer ${srv.token}` } }));
      for (const u of ['alice', 'bob', 'rita', 'ray']) ids[u] = await createUser(srv, u, PASSWORD);
      const a = await call(srv, 'POST', '/core/applications/', { name: 'Wiki', slug: 'wiki' });
      assert.equal(a.status, 201, JSON.stringify(a.body));
      app = a.body;
      // the application is closed: only bob is bound to it
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: app.pk, user: ids.bob, order: 0 })).status, 201);
      const e = await call(srv, 'POST', '/core/application_entitlements/', { name: 'editor', app: app.pk });
      assert.equal(e.status, 201, JSON.stringify(e.body));
      editor = e.body.pbm_uuid;
      // the request flow: a prompt for the justification, as the brand's flow_request
      const reason = await call(srv, 'POST', '/stages/prompt/prompts/', {
        name: 'reason',
        field_key: 'reason',
        label: 'Reason',
        type: 'text',
        required: true,
      });
      assert.equal(reason.status, 201, JSON.stringify(reason.body));
      const prompt = await createStage(srv, '/stages/prompt/stages/', { name: 'request-reason', fields: [reason.body.pk] });
      await flowOf(srv, 'access-request', [prompt], { designation: 'stage_configuration', authentication: 'require_authenticated' });
      const flow = (await call(srv, 'GET', '/flows/instances/?slug=access-request')).body.results[0].pk;
      const brand = (await call(srv, 'GET', '/core/brands/?domain=authentik-default')).body.results[0].brand_uuid;
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand}/`, { flow_request: flow })).status, 200);
      for (const u of ['alice', 'bob', 'rita', 'ray']) sessions[u] = await loggedIn(srv, u, PASSWORD);
    });
    after(async () => srv.close());

    it('rules, rule bindings and child bindings through the official client', async () => {
      rule = await body(requests.requestsRulesCreateRaw({ requestRuleRequest: { name: 'wiki-rule' } }));
      assertMatches('RequestRule', rule);
      assert.deepEqual(
        { ...rule, uuid: undefined, pbm_uuid: undefined },
        {
          uuid: undefined,
          pbm_uuid: undefined,
          policy_engine_mode: 'any',
          name: 'wiki-rule',
          targets: [],
          notification_transports: [],
          notification_mode: 'all',
          min_reviewers: 1,
          min_reviewers_is_per_group: false,
          request_flow: null,
        },
      );
      // reviewers are told in their inbox
      const inbox = await call(srv, 'POST', '/events/transports/', { name: 'inbox', mode: 'local' });
      assert.equal(inbox.status, 201, JSON.stringify(inbox.body));
      const patched = await call(srv, 'PATCH', `/requests/rules/${rule.uuid}/`, { notification_transports: [inbox.body.pk] });
      assert.deepEqual(patched.body.notification_transports, [inbox.body.pk]);
      // rita reviews requests under the rule
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: rule.pbm_uuid, user: ids.rita, order: 0 })).status, 201);
      ruleBinding = await body(
        requests.requestsRuleBindingsCreateRaw({
          requestRuleBindingRequest: { rule: rule.uuid, target: app.pk, expiryPending: 'hours=2', expiryGrantedMax: 'hours=3' },
        }),
      );
      assertMatches('RequestRuleBinding', ruleBinding);
      assert.equal((ruleBinding as any).rule_obj.name, 'wiki-rule');
      // only alice may ask (bob passes no binding of the rule binding)
      assert.equal(
        (await call(srv, 'POST', '/policies/bindings/', { target: ruleBinding.pbm_uuid, user: ids.alice, order: 0 })).status,
        201,
      );
      const child = await call(srv, 'POST', '/requests/rule-child-bindings/', { binding: ruleBinding.uuid, target: editor });
      assert.equal(child.status, 201, JSON.stringify(child.body));
      const twice = await call(srv, 'POST', '/requests/rule-child-bindings/', { binding: ruleBinding.uuid, target: editor });
      assert.equal(twice.status, 400);
      assert.deepEqual(twice.body, { non_field_errors: ['The fields binding, target must make a unique set.'] });
      // a target that is not an application is refused
      const wrong = await call(srv, 'POST', '/requests/rule-bindings/', { rule: rule.uuid, target: rule.pbm_uuid });
      assert.equal(wrong.status, 400);
      assert.ok(wrong.body.target, JSON.stringify(wrong.body));
      const bad = await call(srv, 'POST', '/requests/rule-bindings/', { rule: rule.uuid, target: app.pk, expiry_pending: 'soon' });
      assert.equal(bad.status, 400);
      assert.ok(bad.body.expiry_pending, JSON.stringify(bad.body));
      const listed = await call(srv, 'GET', `/requests/rule-bindings/?rule=${rule.uuid}`);
      assert.deepEqual(
        listed.body.results.map((b: any) => [b.uuid, b.related, b.related_obj[0]?.label]),
        [[ruleBinding.uuid, [editor], 'editor']],
      );
      const again = await call(srv, 'GET', `/requests/rules/${rule.uuid}/`);
      assert.deepEqual(again.body.targets, [app.pk]);
      const used = await call(srv, 'GET', `/requests/rules/${rule.uuid}/used_by/`);
      assert.ok(used.body.some((u: any) => u.model_name === 'requestrulebinding' && u.pk === ruleBinding.uuid));
      assert.ok(used.body.some((u: any) => u.model_name === 'policybinding'));
    });

    it('requestable lists: what the caller may ask for', async () => {
      const mine = await api('alice', 'GET', '/core/applications/requestable/');
      assert.equal(mine.status, 200);
      assert.deepEqual(
        mine.body.results.map((a: any) => a.slug),
        ['wiki'],
      );
      assert.deepEqual((await api('bob', 'GET', '/core/applications/requestable/')).body.results, []);
      const ents = await api('alice', 'GET', '/core/application_entitlements/requestable/');
      assert.equal(ents.status, 200);
      assert.equal(ents.body.results.length, 1);
      assertMatches('RequestableTarget', ents.body.results[0]);
      assert.equal(ents.body.results[0].label, 'editor');
      assert.equal(ents.body.results[0].parent.slug, 'wiki');
      assert.deepEqual((await api('bob', 'GET', '/core/application_entitlements/requestable/')).body.results, []);
    });

    it('a request: refusals, the flow, review, approval, the grant, revocation', async () => {
      assert.equal(await access('alice'), false);
      const bob = await api('bob', 'POST', '/requests/grant-requests/', { pbms: [app.pk] });
      assert.equal(bob.status, 400);
      assert.deepEqual(bob.body, { pbms: ["Cannot request access to 'Wiki'"] });
      assert.deepEqual((await api('alice', 'POST', '/requests/grant-requests/', { pbms: [] })).body, {
        pbms: ['This list may not be empty.'],
      });
      const bogus = await api('alice', 'POST', '/requests/grant-requests/', { pbms: [app.pk], expiry: 'tomorrow' });
      assert.equal(bogus.status, 400);
      assert.ok(bogus.body.expiry);
      const backwards = await api('alice', 'POST', '/requests/grant-requests/', { pbms: [app.pk], expiry: 'hours=-1' });
      assert.deepEqual(backwards.body, { expiry: ['Ensure this duration is positive.'] });
      assert.equal(await srv.app.store.db.selectFrom('grant_requests').select('uuid').executeTakeFirst(), undefined);

      const before = Date.now();
      const uuid = await request('alice', [app.pk], 'on call this week', 'minutes=30');
      const made = await row(uuid);
      assert.equal(made.status, 'created');
      assert.deepEqual(JSON.parse(made.requester_data), { reason: 'on call this week' });
      // the wish (30 minutes) is under the rule binding's maximum (3 hours)
      assert.equal(made.requested_expiry, 'minutes=30');
      const pendingUntil = Date.parse(String(made.expires)) - before;
      assert.ok(pendingUntil > 7_100_000 && pendingUntil < 7_300_000, String(pendingUntil));
      const created = await call(srv, 'GET', '/events/events/?action=access_request_created');
      assert.equal(created.body.results.length, 1);
      assert.equal(created.body.results[0].context.hyperlink_label, 'Fulfill');
      assert.ok(String(created.body.results[0].context.hyperlink).endsWith(`/if/user/#/requests/access-request/${uuid}/fulfill`));

      // rita (the rule's reviewer) was notified, with the link to decide; nobody else
      // (sent after the flow's request: waited for, a few seconds at most)
      let told = await srv.app.store.db.selectFrom('notifications').selectAll().execute();
      for (let i = 0; i < 50 && !told.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        told = await srv.app.store.db.selectFrom('notifications').selectAll().execute();
      }
      assert.deepEqual(
        told.map((n) => [n.user_id, n.hyperlink_label]),
        [[ids.rita, 'Fulfill']],
      );
      assert.equal(told[0]!.hyperlink, created.body.results[0].context.hyperlink);
      // who sees it
      const pending = await api('rita', 'GET', '/requests/grant-requests/pending_review/');
      assert.deepEqual(
        pending.body.results.map((r: any) => r.uuid),
        [uuid],
      );
      assertMatches('GrantRequest', pending.body.results[0]);
      assert.equal(pending.body.results[0].created_by.username, 'alice');
      assert.deepEqual(
        pending.body.results[0].target_objs.map((t: any) => [t.label, t.parent.slug]),
        [['Wiki', 'wiki']],
      );
      assert.deepEqual((await api('bob', 'GET', '/requests/grant-requests/pending_review/')).body.results, []);
      assert.equal((await api('bob', 'GET', `/requests/grant-requests/${uuid}/`)).status, 404);
      assert.deepEqual(
        (await api('alice', 'GET', '/requests/grant-requests/')).body.results.map((r: any) => r.uuid),
        [uuid],
      );

      // the requester cannot decide, nor can someone who cannot see it
      const own = await api('alice', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'approved', data: {} });
      assert.equal(own.status, 400);
      assert.deepEqual(own.body, ['Cannot fulfill your own request']);
      assert.equal((await api('bob', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'approved', data: {} })).status, 404);
      // a superuser without being a reviewer of the rule is refused as authentik's _assert_reviewer does
      const admin = await call(srv, 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'approved', data: {} });
      assert.equal(admin.status, 400);
      assert.deepEqual(admin.body, ['User does not have permissions to act on this object']);
      assert.equal((await row(uuid)).status, 'created');

      const approved = await api('rita', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, {
        status: 'approved',
        data: { note: 'ok' },
      });
      assert.equal(approved.status, 204, JSON.stringify(approved.body));
      const decided = await row(uuid);
      assert.equal(decided.status, 'approved');
      assert.equal(decided.fulfilled_by, ids.rita);
      assert.deepEqual(JSON.parse(decided.fulfiller_data), { note: 'ok' });
      const grant = await srv.app.store.db
        .selectFrom('policy_bindings')
        .selectAll()
        .where('target', '=', app.pk)
        .where('user', '=', ids.alice!)
        .executeTakeFirstOrThrow();
      assert.equal(Number(grant.order), 1000);
      assert.ok(grant.expiring);
      const lasts = Date.parse(String(grant.expires)) - Date.now();
      assert.ok(lasts > 1_700_000 && lasts <= 1_800_000, String(lasts));
      assert.equal(await access('alice'), true);
      const shown = await api('alice', 'GET', `/requests/grant-requests/${uuid}/`);
      assert.equal(shown.body.is_active, true);
      assert.equal(shown.body.status, 'approved');
      // deciding again changes nothing
      assert.equal((await api('rita', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'denied', data: {} })).status, 204);
      assert.equal((await row(uuid)).status, 'approved');
      assert.equal((await call(srv, 'GET', '/events/events/?action=access_request_approved')).body.results.length, 1);
      // a decided request cannot be cancelled
      const cancel = await api('alice', 'DELETE', `/requests/grant-requests/${uuid}/`);
      assert.equal(cancel.status, 400);
      assert.deepEqual(cancel.body, ['Only a pending request can be cancelled']);

      // revocation ends the grant at once
      assert.equal((await api('alice', 'DELETE', `/requests/grant-requests/${uuid}/revoke/`)).status, 403);
      assert.equal((await api('rita', 'DELETE', `/requests/grant-requests/${uuid}/revoke/`)).status, 204);
      const revoked = await row(uuid);
      assert.equal(revoked.status, 'revoked');
      assert.equal(revoked.revoked_by, ids.rita);
      assert.equal(await access('alice'), false);
      assert.equal((await api('alice', 'GET', `/requests/grant-requests/${uuid}/`)).body.is_active, false);
      assert.equal((await call(srv, 'GET', '/events/events/?action=access_request_revoked')).body.results.length, 1);
    });

    it('a denial decides at once; the requester may cancel a pending request', async () => {
      const denied = await request('alice', [editor], 'to fix a typo');
      // no wish: the rule binding's maximum
      assert.equal((await row(denied)).requested_expiry, 'hours=3');
      assert.equal((await api('rita', 'PATCH', `/requests/grant-requests/${denied}/fulfill/`, { status: 'denied', data: {} })).status, 204);
      assert.equal((await row(denied)).status, 'denied');
      assert.equal(
        await srv.app.store.db.selectFrom('policy_bindings').select('policy_binding_uuid').where('target', '=', editor).executeTakeFirst(),
        undefined,
      );
      const pending = await request('alice', [editor], 'again');
      assert.equal((await api('alice', 'DELETE', `/requests/grant-requests/${pending}/`)).status, 204);
      assert.equal(
        await srv.app.store.db.selectFrom('grant_requests').select('uuid').where('uuid', '=', pending).executeTakeFirst(),
        undefined,
      );
      const agent = await api('alice', 'POST', '/requests/grant-requests/agent/', { pbms: [app.pk] });
      assert.equal(agent.status, 403);
      assert.deepEqual(agent.body, { detail: 'Only agents can request access through this endpoint.' });
    });

    it('a denial is recorded and decides the request together: a failure between them records nothing', async () => {
      const uuid = await request('alice', [editor], 'once more');
      const heal = await failUpdatesOf(srv, dialect, 'grant_requests', 'status', `OLD.uuid = '${uuid}'`);
      try {
        const failed = await api('rita', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'denied', data: {} });
        assert.notEqual(failed.status, 204);
      } finally {
        await heal();
      }
      assert.equal((await row(uuid)).status, 'created');
      const kept = await srv.app.store.db.selectFrom('grant_request_approvals').select('status').where('request', '=', uuid).execute();
      assert.deepEqual(kept, [], 'no decision recorded for a request left undecided');
      assert.equal((await api('rita', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'denied', data: {} })).status, 204);
      assert.equal((await row(uuid)).status, 'denied');
    });

    it('min_reviewers from a group: two approvals sent at once finalise the request once', async () => {
      const g = await call(srv, 'POST', '/core/groups/', { name: 'approvers', users: [ids.rita, ids.ray] });
      assert.equal(g.status, 201, JSON.stringify(g.body));
      const strict = await call(srv, 'POST', '/requests/rules/', { name: 'two-eyes', min_reviewers: 2 });
      assert.equal(strict.status, 201);
      assert.equal(
        (await call(srv, 'POST', '/policies/bindings/', { target: strict.body.pbm_uuid, group: g.body.pk, order: 0 })).status,
        201,
      );
      const b2 = await call(srv, 'POST', '/requests/rule-bindings/', { rule: strict.body.uuid, target: app.pk });
      assert.equal(b2.status, 201);
      // rita, bound directly to the first rule, would satisfy it alone: take that rule's binding off the application
      assert.equal((await call(srv, 'DELETE', `/requests/rule-bindings/${ruleBinding.uuid}/`)).status, 204);
      for (let round = 0; round < 3; round++) {
        const uuid = await request('alice', [app.pk], `round ${round}`);
        // one approval is not enough
        if (round === 0) {
          assert.equal(
            (await api('ray', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'approved', data: {} })).status,
            204,
          );
          assert.equal((await row(uuid)).status, 'created');
        }
        const answers = await Promise.all(
          ['rita', 'ray'].map((who) =>
            api(who, 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'approved', data: { who } }),
          ),
        );
        assert.deepEqual(
          answers.map((a) => a.status),
          [204, 204],
        );
        assert.equal((await row(uuid)).status, 'approved');
        const bindings = await srv.app.store.db.selectFrom('grant_request_targets').select('binding').where('request', '=', uuid).execute();
        assert.equal(bindings.length, 1);
        assert.ok(bindings[0]!.binding);
        const grants = await srv.app.store.db
          .selectFrom('policy_bindings')
          .select('policy_binding_uuid')
          .where('target', '=', app.pk)
          .where('user', '=', ids.alice!)
          .where('expires', '>', new Date().toISOString())
          .execute();
        assert.equal(grants.length, round + 1, `round ${round}`);
      }
      assert.equal(await access('alice'), true);
    });

    it('a rule whose reviewers a policy decides: its approvals count towards min_reviewers', async () => {
      const docs = await call(srv, 'POST', '/core/applications/', { name: 'Docs', slug: 'docs' });
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: docs.body.pk, user: ids.bob, order: 0 })).status, 201);
      const anyone = await call(srv, 'POST', '/policies/dummy/', { name: 'anyone reviews', result: true, wait_min: 0, wait_max: 0 });
      assert.equal(anyone.status, 201, JSON.stringify(anyone.body));
      const open = await call(srv, 'POST', '/requests/rules/', { name: 'anyone', min_reviewers: 1 });
      assert.equal(
        (await call(srv, 'POST', '/policies/bindings/', { target: open.body.pbm_uuid, policy: anyone.body.pk, order: 0 })).status,
        201,
      );
      const b = await call(srv, 'POST', '/requests/rule-bindings/', { rule: open.body.uuid, target: docs.body.pk });
      assert.equal((await call(srv, 'POST', '/policies/bindings/', { target: b.body.pbm_uuid, user: ids.alice, order: 0 })).status, 201);
      const uuid = await request('alice', [docs.body.pk], 'to read the docs');
      assert.equal((await api('bob', 'PATCH', `/requests/grant-requests/${uuid}/fulfill/`, { status: 'approved', data: {} })).status, 204);
      assert.equal((await row(uuid)).status, 'approved');
      assert.equal(await access('alice', 'docs'), true);
    });

    it('deleting the application takes its rule bindings, their policy bindings and the requests’ targets', async () => {
      const ruleBindings = await srv.app.store.db
        .selectFrom('request_rule_bindings')
        .select('pbm_uuid')
        .where('target', '=', app.pk)
        .execute();
      assert.ok(ruleBindings.length > 0);
      assert.equal((await call(srv, 'DELETE', `/core/applications/${app.slug}/`)).status, 204);
      assert.equal(
        (await srv.app.store.db.selectFrom('request_rule_bindings').select('uuid').where('target', '=', app.pk).execute()).length,
        0,
      );
      const orphans = await srv.app.store.db
        .selectFrom('policy_bindings')
        .select('policy_binding_uuid')
        .where('target', 'in', [app.pk, editor, ...ruleBindings.map((b) => b.pbm_uuid)])
        .execute();
      assert.deepEqual(orphans, []);
      assert.equal(
        (await srv.app.store.db.selectFrom('grant_request_targets').select('uuid').where('target', 'in', [app.pk, editor]).execute())
          .length,
        0,
      );
      // the requests themselves stay (their events and decisions); the rules too
      assert.ok((await srv.app.store.db.selectFrom('grant_requests').select('uuid').execute()).length > 0);
      assert.equal((await call(srv, 'GET', '/requests/rules/')).body.results.length, 3);
    });
  });
}
