/**
 * `invalid_response_action` on the password binding of the default flow (PATCH /flows/bindings/{uuid}/):
 * `restart` answers a wrong password with a 302 to a brand-new plan (first stage, no errors, empty context);
 * `restart_with_context` does the same but the new plan keeps the context, pending user included.
 */
import { describe, it, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { bindingOf, createStage, createUser, defaultStages, flowOf, sessionRow } from '../helpers/flows.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`flow invalid_response_action (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    let binding: string;
    const setAction = async (action: string) => {
      const r = await call(srv, 'PATCH', `/flows/bindings/${binding}/`, { invalid_response_action: action });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.invalid_response_action, action);
    };
    before(async () => {
      srv = await startServer(dialect, { lockout: { accountIpLimit: 10, accountLimit: 100, ipLimit: 300, slowAfter: 100 } });
      stages = await defaultStages(srv);
      binding = await bindingOf(srv, FLOW, stages.password);
      await createUser(srv, 'rita', 'rita-pass-1');
    });
    afterEach(() => setAction('retry'));
    after(async () => srv.close());

    async function wrongPassword(b: Browser) {
      await b.get(FLOW);
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'rita' });
      assert.equal(pw.body.component, 'ak-stage-password');
      return b.solve(FLOW, { component: 'ak-stage-password', password: 'wrong' });
    }

    it('retry (default): the same stage again with the error', async () => {
      const r = await wrongPassword(new Browser(srv.api));
      assert.equal(r.body.component, 'ak-stage-password');
      assert.ok(r.body.response_errors.password);
    });

    it('restart: 302, then the first stage again without errors and with an empty context', async () => {
      await setAction('restart');
      const b = new Browser(srv.api);
      const r = await wrongPassword(b);
      assert.deepEqual(
        r.hops.map((h) => [h.method, h.status]),
        [
          ['POST', 302],
          ['GET', 200],
        ],
      );
      assert.equal(r.body.component, 'ak-stage-identification');
      assert.equal(r.body.response_errors, undefined);
      assert.equal(r.body.pending_user_identifier, undefined);
      const plan = (await sessionRow(srv, b.session))?.data.plan;
      assert.equal(plan?.bindings.length, 4, 'a whole new plan');
      assert.deepEqual(plan?.context, {});
      // the new plan works
      await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'rita' });
      assert.equal((await b.solve(FLOW, { component: 'ak-stage-password', password: 'rita-pass-1' })).body.component, 'xak-flow-redirect');
    });

    it('restart_with_context: the first stage again, the pending user kept', async () => {
      await setAction('restart_with_context');
      // show_matched_user on: no typed identifier is kept, so the form is shown again (off: the next test)
      await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { show_matched_user: true });
      try {
        const b = new Browser(srv.api);
        const r = await wrongPassword(b);
        assert.equal(r.hops[0]!.status, 302);
        assert.equal(r.body.component, 'ak-stage-identification');
        assert.equal(r.body.response_errors, undefined);
        const plan = (await sessionRow(srv, b.session))?.data.plan;
        assert.equal(plan?.bindings.length, 4);
        assert.equal(plan?.context.pendingUser.username, 'rita', 'the context survived the restart');
      } finally {
        await call(srv, 'PATCH', `/stages/identification/${stages.identification}/`, { show_matched_user: false });
      }
    });

    it('restart_with_context: a kept identifier passes identification again; the password stage shows the pending user', async () => {
      // show_matched_user off keeps what was typed in the context; the restarted identification stage submits it
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'ctx-ident',
        user_fields: ['username'],
        show_matched_user: false,
      });
      const slug = await flowOf(srv, 'ctx-restart', [ident, stages.password, stages.login]);
      await call(srv, 'PATCH', `/flows/bindings/${await bindingOf(srv, slug, stages.password)}/`, {
        invalid_response_action: 'restart_with_context',
      });
      const b = new Browser(srv.api);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: 'RITA' });
      const r = await b.solve(slug, { component: 'ak-stage-password', password: 'wrong' });
      assert.deepEqual(
        r.hops.map((h) => [h.method, h.status]),
        [
          ['POST', 302],
          ['GET', 200],
        ],
      );
      assert.equal(r.body.component, 'ak-stage-password');
      assert.equal(r.body.pending_user, 'RITA', 'the kept identifier, as typed');
      assert.equal(r.body.response_errors, undefined, 'a restart shows no errors');
      const plan = (await sessionRow(srv, b.session))?.data.plan;
      assert.equal(plan?.bindings.length, 2, 'identification passed again in the new plan');
      assert.equal(plan?.context.pendingUser.username, 'rita');
      assert.equal((await b.solve(slug, { component: 'ak-stage-password', password: 'rita-pass-1' })).body.component, 'xak-flow-redirect');
      assert.equal((await b.me()).body.user.username, 'rita');
    });

    it('restart also replaces an abort: a deny stage bound with restart starts over', async () => {
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'restart-first' });
      const deny = await createStage(srv, '/stages/deny/', { name: 'restart-deny', deny_message: 'never shown' });
      const slug = await flowOf(srv, 'restart-deny', [dummy, deny]);
      await call(srv, 'PATCH', `/flows/bindings/${await bindingOf(srv, slug, deny)}/`, { invalid_response_action: 'restart' });
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await b.solve(slug, { component: 'ak-stage-dummy' });
      assert.equal(r.body.component, 'ak-stage-dummy', 'the first stage again instead of access denied');
      assert.equal((await sessionRow(srv, b.session))?.data.plan?.bindings.length, 2);
    });
  });
}
