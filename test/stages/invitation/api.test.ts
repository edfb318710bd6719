/**
 * `/stages/invitation/stages/` and `/stages/invitation/invitations/` through the official client and raw HTTP:
 * authentik's components and defaults, `created_by` set to the caller, `flow_obj`, list filters, field errors (400),
 * superusers only.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { assertMatches } from '../../helpers/openapi-schema.js';
import { createUser } from '../../helpers/flows.js';
import { body, clients, failure } from '../../rest/contract/client.js';

for (const dialect of dialects()) {
  describe(`invitation API (${dialect})`, () => {
    let srv: TestServer;
    let api: ReturnType<typeof clients>['stages'];
    before(async () => {
      srv = await startServer(dialect);
      api = clients(srv).stages;
    });
    after(async () => srv.close());

    it('stages: create with defaults, filters (continue_flow_without_invitation, no_flows), patch, used_by', async () => {
      const created = await body(api.stagesInvitationStagesCreateRaw({ invitationStageRequest: { name: 'invite-only' } }));
      assertMatches('InvitationStage', created);
      assert.equal(created.continue_flow_without_invitation, false);
      assert.equal(created.component, 'ak-stage-invitation-form');
      assert.equal(created.meta_model_name, 'authentik_stages_invitation.invitationstage');
      assert.equal(created.verbose_name, 'Invitation Stage');
      const open = await body(
        api.stagesInvitationStagesCreateRaw({ invitationStageRequest: { name: 'invite-open', continueFlowWithoutInvitation: true } }),
      );
      assert.equal(open.continue_flow_without_invitation, true);
      const names = async (q: Record<string, unknown>) =>
        (await body(api.stagesInvitationStagesListRaw(q))).results.map((s: { name: string }) => s.name);
      assert.deepEqual(await names({ continueFlowWithoutInvitation: true }), ['invite-open']);
      assert.deepEqual(await names({ noFlows: true }), ['invite-only', 'invite-open']);
      const flow = await call(srv, 'POST', '/flows/instances/', { name: 'inv', slug: 'inv', title: 'inv', designation: 'enrollment' });
      assert.equal((await call(srv, 'POST', '/flows/bindings/', { target: flow.body.pk, stage: created.pk, order: 0 })).status, 201);
      assert.deepEqual(await names({ noFlows: true }), ['invite-open']);
      assert.deepEqual(await names({ noFlows: false }), ['invite-only']);
      assert.equal((await call(srv, 'GET', '/stages/invitation/stages/?no_flows=maybe')).status, 400);
      const patched = await body(
        api.stagesInvitationStagesPartialUpdateRaw({
          stageUuid: created.pk,
          patchedInvitationStageRequest: { continueFlowWithoutInvitation: true },
        }),
      );
      assert.equal(patched.continue_flow_without_invitation, true);
      assert.equal(patched.flow_set.length, 1);
      const types = await call(srv, 'GET', '/stages/all/types/');
      assert.ok(types.body.some((t: { model_name: string }) => t.model_name === 'invitationstage'));
      assert.equal((await call(srv, 'DELETE', '/flows/instances/inv/')).status, 204);
    });

    it('invitations: create (created_by is the caller), retrieve, filters, search, patch, destroy', async () => {
      const flow = await call(srv, 'POST', '/flows/instances/', { name: 'Join', slug: 'join', title: 'Join', designation: 'enrollment' });
      const expires = new Date(Date.now() + 86_400_000);
      const created = await body(
        api.stagesInvitationInvitationsCreateRaw({
          invitationRequest: { name: 'welcome-bob', fixedData: { email: 'bob@example.com' }, singleUse: true, flow: flow.body.pk, expires },
        }),
      );
      assertMatches('Invitation', created);
      assert.equal(created.name, 'welcome-bob');
      assert.deepEqual(created.fixed_data, { email: 'bob@example.com' });
      assert.equal(created.single_use, true);
      assert.equal(created.flow, flow.body.pk);
      assert.equal(created.flow_obj.slug, 'join');
      assert.equal(created.created_by.username, 'akadmin');
      assert.equal(new Date(created.expires).getTime(), expires.getTime());

      const plain = await call(srv, 'POST', '/stages/invitation/invitations/', { name: 'open-door' });
      assert.equal(plain.status, 201);
      assert.deepEqual(
        { ...plain.body, pk: undefined, created_by: undefined },
        {
          pk: undefined,
          name: 'open-door',
          expires: null,
          fixed_data: {},
          created_by: undefined,
          single_use: false,
          flow: null,
          flow_obj: null,
        },
      );
      // created_by is read-only: a sent value is ignored
      const other = await createUser(srv, 'someone', 'someone-pass-1');
      const sent = await call(srv, 'POST', '/stages/invitation/invitations/', { name: 'sent-creator', created_by: other });
      assert.equal(sent.body.created_by.username, 'akadmin');

      assert.deepEqual(await body(api.stagesInvitationInvitationsRetrieveRaw({ inviteUuid: created.pk })), created);
      const names = async (q: Record<string, unknown>) =>
        (await body(api.stagesInvitationInvitationsListRaw(q))).results.map((i: { name: string }) => i.name);
      assert.deepEqual(await names({ flowSlug: 'join' }), ['welcome-bob']);
      assert.deepEqual(await names({ name: 'open-door' }), ['open-door']);
      assert.deepEqual(await names({ createdByUsername: 'someone' }), []);
      assert.equal((await names({ createdByUsername: 'akadmin' })).length, 3);
      assert.deepEqual(await names({ expires }), ['welcome-bob']);
      assert.deepEqual(await names({ search: 'welcome' }), ['welcome-bob']);
      assert.deepEqual(await names({ search: 'join' }), ['welcome-bob']);
      assert.deepEqual(await names({ ordering: 'name' }), ['open-door', 'sent-creator', 'welcome-bob']);

      const patched = await body(
        api.stagesInvitationInvitationsPartialUpdateRaw({
          inviteUuid: created.pk,
          patchedInvitationRequest: { singleUse: false, fixedData: { name: 'Bob' } },
        }),
      );
      assert.equal(patched.single_use, false);
      assert.deepEqual(patched.fixed_data, { name: 'Bob' });
      assert.equal(patched.created_by.username, 'akadmin');
      assert.deepEqual(await body(api.stagesInvitationInvitationsUsedByListRaw({ inviteUuid: created.pk })), []);
      assert.equal((await api.stagesInvitationInvitationsDestroyRaw({ inviteUuid: created.pk })).raw.status, 204);
      assert.equal((await failure(api.stagesInvitationInvitationsRetrieveRaw({ inviteUuid: created.pk }))).status, 404);
    });

    it('bad input is a 400 on the field, never a 500', async () => {
      const post = (b: unknown) => call(srv, 'POST', '/stages/invitation/invitations/', b);
      const bad = await post({ name: 'not a slug!' });
      assert.equal(bad.status, 400);
      assert.ok(bad.body.name);
      assert.deepEqual((await post({})).body, { name: ['This field is required.'] });
      assert.ok((await post({ name: 'x', expires: 'tomorrow' })).body.expires);
      assert.ok((await post({ name: 'x', fixed_data: 'not a dict' })).body.fixed_data);
      assert.ok((await post({ name: 'x', flow: '00000000-0000-4000-8000-000000000000' })).body.flow);
      assert.ok((await post({ name: 'x', single_use: 'perhaps' })).body.single_use);
      assert.equal((await call(srv, 'GET', '/stages/invitation/invitations/?expires=soon')).status, 400);
      assert.equal((await call(srv, 'GET', '/stages/invitation/invitations/not-a-uuid/')).status, 404);
    });

    it('only superusers see or change invitations', async () => {
      await createUser(srv, 'plain', 'plain-pass-12');
      const tok = await call(srv, 'POST', '/core/tokens/', { identifier: 'plain-token', intent: 'api', user: await userId(srv, 'plain') });
      assert.equal(tok.status, 201);
      const key = (await call(srv, 'GET', '/core/tokens/plain-token/view_key/')).body.key;
      const as = (method: string, path: string, b?: unknown) => call({ ...srv, token: key }, method, path, b);
      assert.equal((await as('GET', '/stages/invitation/invitations/')).status, 403);
      assert.equal((await as('POST', '/stages/invitation/invitations/', { name: 'mine' })).status, 403);
      assert.equal((await as('GET', '/stages/invitation/stages/')).status, 403);
    });
  });
}

async function userId(srv: TestServer, username: string): Promise<number> {
  return (await call(srv, 'GET', `/core/users/?username=${username}`)).body.results[0].pk;
}
