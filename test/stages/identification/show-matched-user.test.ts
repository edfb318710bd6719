/**
 * What the identification stage's show_matched_user reveals. Keystage's default flow ships it off: the challenge after
 * identification shows only what was typed (pending_user, and an avatar of its initials), the same whether the account
 * exists or not. Turned on (authentik's default for new stages), the answer carries the matched account's username and
 * the initials of its real name, so an existing account can be told apart from an unknown one.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createUser, defaultStages } from '../../helpers/flows.js';
import { initialsAvatar } from '../../../src/users/avatar.js';

const FLOW = 'default-authentication-flow';
const TYPED = 'alice@example.com';

for (const dialect of dialects()) {
  describe(`show_matched_user in the default flow (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      srv = await startServer(dialect);
      stages = await defaultStages(srv);
    });
    after(async () => srv.close());

    /** the challenge after identifying with TYPED: once while alice@example.com exists, once after she is deleted */
    async function existingThenUnknown() {
      const pk = await createUser(srv, 'alice', 'alice-pass-1', { name: 'Zora Quinn', email: TYPED });
      const identify = async () => {
        const b = new Browser(srv.api);
        await b.get(FLOW);
        return b.solve(FLOW, { component: 'ak-stage-identification', uidField: TYPED });
      };
      const existing = await identify();
      assert.equal((await call(srv, 'DELETE', `/core/users/${pk}/`)).status, 204);
      const unknown = await identify();
      return { existing, unknown };
    }

    it('ships off: the challenges after an existing and an unknown identifier are identical', async () => {
      const stage = await call(srv, 'GET', `/stages/identification/${stages.identification}/`);
      assert.equal(stage.body.show_matched_user, false);
      const { existing, unknown } = await existingThenUnknown();
      assert.equal(existing.body.component, 'ak-stage-password');
      assert.deepEqual(existing.body, unknown.body);
      assert.deepEqual(
        existing.hops.map((h) => h.status),
        unknown.hops.map((h) => h.status),
      );
      assert.equal(existing.body.pending_user, TYPED, 'what was typed');
      assert.equal(existing.body.pending_user_avatar, initialsAvatar('', TYPED), 'initials of what was typed, not of the real name');
    });

    it('turned on: the matched username and the initials of the real name are shown, so the two differ', async () => {
      assert.equal((await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { show_matched_user: true })).status, 200);
      try {
        const { existing, unknown } = await existingThenUnknown();
        assert.equal(existing.body.pending_user, 'alice', 'the account behind the e-mail address');
        assert.equal(existing.body.pending_user_avatar, initialsAvatar('Zora Quinn', 'alice'), 'initials of the real name (ZQ)');
        assert.equal(unknown.body.pending_user, TYPED);
        assert.equal(unknown.body.pending_user_avatar, initialsAvatar('', TYPED));
        assert.notDeepEqual(existing.body, unknown.body);
      } finally {
        await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { show_matched_user: false });
      }
    });

    it('an identifier matching several fields names the user of the first field listed, whoever is older', async () => {
      const path = `/stages/identification/${stages.identification}/`;
      const before = (await call(srv, 'GET', path)).body;
      await createUser(srv, 'older', 'older-pass-1', { name: 'Old Er', email: 'both@example.com' });
      await createUser(srv, 'both@example.com', 'newer-pass-1', { name: 'New Er', email: 'newer@example.com' });
      const identify = async () => {
        const b = new Browser(srv.api);
        await b.get(FLOW);
        return (await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'BOTH@example.com' })).body.pending_user;
      };
      try {
        assert.equal((await call(srv, 'PATCH', path, { show_matched_user: true, user_fields: ['username', 'email'] })).status, 200);
        assert.equal(await identify(), 'both@example.com', 'the username match (the newer user)');
        assert.equal((await call(srv, 'PATCH', path, { user_fields: ['email', 'username'] })).status, 200);
        assert.equal(await identify(), 'older', 'the e-mail match');
        assert.equal((await call(srv, 'PATCH', path, { user_fields: ['email'] })).status, 200);
        assert.equal(await identify(), 'older');
      } finally {
        await call(srv, 'PATCH', path, { show_matched_user: before.show_matched_user, user_fields: before.user_fields });
      }
    });

    it("new stages created through the API still default to authentik's true", async () => {
      const r = await call(srv, 'POST', '/stages/identification/', { name: 'api-default-ident', user_fields: ['username'] });
      assert.equal(r.status, 201);
      assert.equal(r.body.show_matched_user, true);
    });
  });
}
