/**
 * Deny stage (its message, or "Unknown error") and dummy stage (a challenge with the stage's name that any POST
 * passes; `throw_error` turns rendering into an `ak-stage-flow-error` with HTTP 200).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createStage, flowOf, sessionRow } from '../helpers/flows.js';

const DEFAULT_AVATAR = '/static/dist/assets/images/user_default.png';

for (const dialect of dialects()) {
  describe(`flow deny and dummy stages (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    it('deny with a message: access denied with that message, the plan dropped', async () => {
      const deny = await createStage(srv, '/stages/deny/', { name: 'deny-msg', deny_message: 'Go away.' });
      const slug = await flowOf(srv, 'deny-msg', [deny], { title: 'Deny test' });
      const b = new Browser(srv.api);
      const r = await b.get(slug);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, {
        component: 'ak-stage-access-denied',
        error_message: 'Go away.',
        flow_info: r.body.flow_info,
        pending_user: '',
        pending_user_avatar: DEFAULT_AVATAR,
      });
      assert.equal(r.body.flow_info.title, 'Deny test');
      // the plan is dropped, and an anonymous session with nothing else in it is not stored at all
      assert.equal(b.session, undefined);
      assert.equal(await sessionRow(srv, b.session), undefined);
    });

    it('deny without a message: "Unknown error"', async () => {
      const deny = await createStage(srv, '/stages/deny/', { name: 'deny-empty' });
      const slug = await flowOf(srv, 'deny-empty', [deny]);
      const r = await new Browser(srv.api).get(slug);
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'Unknown error');
    });

    it('dummy: the challenge carries the stage name; a POST passes to the next stage', async () => {
      const first = await createStage(srv, '/stages/dummy/', { name: 'dummy-one' });
      const second = await createStage(srv, '/stages/dummy/', { name: 'dummy-two' });
      const slug = await flowOf(srv, 'dummies', [first, second]);
      const b = new Browser(srv.api);
      const one = await b.get(slug);
      assert.equal(one.status, 200);
      assert.deepEqual(Object.keys(one.body).sort(), ['component', 'flow_info', 'name']);
      assert.equal(one.body.component, 'ak-stage-dummy');
      assert.equal(one.body.name, 'dummy-one');
      const two = await b.solve(slug, { component: 'ak-stage-dummy' });
      assert.deepEqual(
        two.hops.map((h) => [h.method, h.status]),
        [
          ['POST', 302],
          ['GET', 200],
        ],
      );
      assert.equal(two.body.name, 'dummy-two');
      assert.equal((await sessionRow(srv, b.session))?.data.plan?.bindings.length, 1);
      const done = await b.solve(slug, { component: 'ak-stage-dummy' });
      assert.deepEqual(
        done.hops.map((h) => h.status),
        [200],
        'the last stage ends the flow without a 302',
      );
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.equal((await sessionRow(srv, b.session))?.data.plan, undefined);
      // nobody was logged in by that
      assert.equal((await b.me()).status, 403);
    });

    it('dummy with throw_error: ak-stage-flow-error with HTTP 200', async () => {
      const broken = await createStage(srv, '/stages/dummy/', { name: 'dummy-throws', throw_error: true });
      const slug = await flowOf(srv, 'dummy-throws', [broken]);
      const r = await new Browser(srv.api).get(slug);
      assert.equal(r.status, 200);
      assert.equal(r.body.component, 'ak-stage-flow-error');
      assert.equal(typeof r.body.request_id, 'string');
      assert.equal(r.body.error, undefined, 'no details for an anonymous user');
      assert.equal(r.body.traceback, undefined);
    });

    it('a dummy then a deny: the POST ends in access denied', async () => {
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'before-deny' });
      const deny = await createStage(srv, '/stages/deny/', { name: 'after-dummy', deny_message: 'Not today.' });
      const slug = await flowOf(srv, 'dummy-deny', [dummy, deny]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await b.solve(slug, { component: 'ak-stage-dummy' });
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'Not today.');
      assert.equal((await sessionRow(srv, b.session))?.data.plan, undefined);
      assert.equal((await b.get(slug)).body.component, 'ak-stage-dummy', 'a new plan on the next request');
    });
  });
}
