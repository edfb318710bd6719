/**
 * The default sign-up flow end to end through the executor with the official client: the login page links to it,
 * a person signs up (prompt → user write → login) and is logged in as the new user; taken usernames, mismatched
 * passwords and a password the policy refuses are answered on the prompt, and nothing is created until it passes.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createUser } from '../../helpers/flows.js';

const FLOW = 'default-enrollment-flow';

const signUp = (over: Record<string, unknown> = {}) => ({
  component: 'ak-stage-prompt',
  username: 'newcomer',
  name: 'New Comer',
  email: 'newcomer@example.com',
  password: 'a-long-enough-secret',
  password_repeat: 'a-long-enough-secret',
  ...over,
});

for (const dialect of dialects()) {
  describe(`default enrollment flow (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
      await createUser(srv, 'taken', 'taken-pass-1');
    });
    after(async () => srv.close());

    it('the login page links to the sign-up flow ("Need an account? Sign up.")', async () => {
      const b = new Browser(srv.api);
      const first = await b.get('default-authentication-flow');
      assert.equal(first.body.component, 'ak-stage-identification');
      assert.equal(first.body.enroll_url, `/if/flow/${FLOW}/`);
      const flow = await call(srv, 'GET', `/flows/instances/${FLOW}/`);
      assert.equal(flow.body.designation, 'enrollment');
    });

    it('shows the prompts, answers bad input on the fields, then creates the user and logs them in', async () => {
      const b = new Browser(srv.api);
      const first = await b.get(FLOW);
      assert.equal(first.status, 200);
      assert.equal(first.body.component, 'ak-stage-prompt');
      assert.deepEqual(
        first.body.fields.map((f: { field_key: string; type: string }) => `${f.field_key}:${f.type}`),
        ['username:username', 'name:text', 'email:email', 'password:password', 'password_repeat:password'],
      );

      const taken = await b.solve(FLOW, signUp({ username: 'taken' }) as never);
      assert.deepEqual(taken.body.response_errors, { username: [{ string: 'Username is already taken.', code: 'invalid' }] });
      const mismatch = await b.solve(FLOW, signUp({ password_repeat: 'something-else-entirely' }) as never);
      assert.deepEqual(mismatch.body.response_errors, { non_field_errors: [{ string: "Passwords don't match.", code: 'invalid' }] });
      const short = await b.solve(FLOW, signUp({ password: 'short', password_repeat: 'short' }) as never);
      assert.deepEqual(short.body.response_errors, {
        password: [{ string: 'The password must be at least 8 characters long.', code: 'invalid' }],
      });
      const missing = await b.solve(FLOW, { component: 'ak-stage-prompt' } as never);
      assert.equal(missing.body.response_errors.username[0].string, 'This field is required.');
      assert.equal((await call(srv, 'GET', '/core/users/?username=newcomer')).body.results.length, 0, 'nothing created yet');

      const done = await b.solve(FLOW, signUp() as never);
      assert.equal(done.status, 200);
      assert.deepEqual(done.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      const me = await b.me();
      assert.equal(me.body.user.username, 'newcomer');
      assert.equal(me.body.user.name, 'New Comer');
      assert.equal(me.body.user.email, 'newcomer@example.com');
      const user = (await call(srv, 'GET', '/core/users/?username=newcomer')).body.results[0];
      assert.equal(user.is_active, true);
      assert.equal(user.type, 'internal');
      assert.equal(user.path, 'users');
      assert.equal(user.is_superuser, false);
      assert.deepEqual(user.groups, []);
      // the new password works in the login flow
      const again = new Browser(srv.api);
      await again.get('default-authentication-flow');
      await again.solve('default-authentication-flow', { component: 'ak-stage-identification', uidField: 'newcomer' });
      const login = await again.solve('default-authentication-flow', { component: 'ak-stage-password', password: 'a-long-enough-secret' });
      assert.equal(login.body.component, 'xak-flow-redirect');
      const events = await srv.app.store.db.selectFrom('events').select(['action', 'context']).where('action', '=', 'user_write').execute();
      assert.equal(events.length, 1);
      const context = JSON.parse(events[0]!.context);
      assert.equal(context.created, true);
      assert.equal(context.password, '********************', 'the password is not in the event');
    });

    it('an install that already has its default login flow is not given a sign-up flow by a restart', async () => {
      assert.equal((await call(srv, 'DELETE', `/flows/instances/${FLOW}/`)).status, 204);
      const node =
        dialect === 'sqlite'
          ? await startServer('sqlite', { sqlitePath: srv.config.sqlitePath })
          : await startServer('postgres', { databaseUrl: srv.config.databaseUrl });
      try {
        assert.equal((await call(node, 'GET', `/flows/instances/${FLOW}/`)).status, 404);
        const b = new Browser(node.api);
        const first = await b.get('default-authentication-flow');
        assert.equal(first.body.enroll_url, undefined, 'the deleted flow is no longer linked');
      } finally {
        await node.close();
      }
    });
  });
}
