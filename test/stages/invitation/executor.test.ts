/**
 * The invitation stage in flows, through the executor with the official client: the token from `?itoken=` (dashed or
 * hex) or from a prompt field `token`; missing, unknown, expired or other-flow invitations end the flow (or are
 * skipped with continue_flow_without_invitation); an enrollment with an invitation end to end (its fixed_data
 * reaches the new user); a single-use invitation is spent by the user write — kept when the write fails — and of
 * several sign-ups racing with one single-use invitation exactly one succeeds.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { createStage, createUser, flowOf } from '../../helpers/flows.js';

const DENIED = 'Invalid invite/invite not found';

async function prompt(srv: TestServer, name: string, field_key: string, type: string): Promise<string> {
  const r = await call(srv, 'POST', '/stages/prompt/prompts/', { name, field_key, label: field_key, type });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.pk;
}

async function invite(srv: TestServer, b: Record<string, unknown>): Promise<string> {
  const r = await call(srv, 'POST', '/stages/invitation/invitations/', { name: 'inv', ...b });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.pk;
}

const exists = async (srv: TestServer, pk: string) => (await call(srv, 'GET', `/stages/invitation/invitations/${pk}/`)).status === 200;
const users = async (srv: TestServer, username: string) => (await call(srv, 'GET', `/core/users/?username=${username}`)).body.results;

for (const dialect of dialects()) {
  describe(`invitation stage at run time (${dialect})`, () => {
    let srv: TestServer;
    let strict: string;
    let signupPrompt: string;
    before(async () => {
      srv = await startServer(dialect);
      strict = await createStage(srv, '/stages/invitation/stages/', { name: 'inv-strict' });
      const open = await createStage(srv, '/stages/invitation/stages/', { name: 'inv-open', continue_flow_without_invitation: true });
      await flowOf(srv, 'inv-only', [strict], { designation: 'enrollment' });
      await flowOf(srv, 'inv-open', [open], { designation: 'enrollment' });
      // a username prompt of type text: a taken username gets as far as the user write
      signupPrompt = await createStage(srv, '/stages/prompt/stages/', {
        name: 'signup-prompt',
        fields: [await prompt(srv, 'su-username', 'username', 'text'), await prompt(srv, 'su-password', 'password', 'password')],
      });
      const write = await createStage(srv, '/stages/user_write/', { name: 'signup-write', user_creation_mode: 'always_create' });
      const login = await createStage(srv, '/stages/user_login/', { name: 'signup-login' });
      await flowOf(srv, 'signup', [strict, signupPrompt, write, login], { designation: 'enrollment' });
      const tokenPrompt = await createStage(srv, '/stages/prompt/stages/', {
        name: 'token-prompt',
        fields: [await prompt(srv, 'su-token', 'token', 'text')],
      });
      await flowOf(srv, 'signup-by-code', [tokenPrompt, strict, signupPrompt, write, login], { designation: 'enrollment' });
    });
    after(async () => srv.close());

    it('without an invitation: access denied, or on with continue_flow_without_invitation', async () => {
      const b = new Browser(srv.api);
      const r = await b.get('inv-only');
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, DENIED);
      const unknown = await new Browser(srv.api).get('inv-only', 'itoken=00000000-0000-4000-8000-000000000000');
      assert.equal(unknown.body.error_message, DENIED);
      const garbage = await new Browser(srv.api).get('inv-only', 'itoken=%27%20or%201%3D1');
      assert.equal(garbage.body.error_message, DENIED);
      const open = await new Browser(srv.api).get('inv-open');
      assert.deepEqual(open.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
    });

    it('a valid invitation passes (?itoken= dashed or hex, ?token=); expired or for another flow it does not', async () => {
      const pk = await invite(srv, { name: 'plain' });
      for (const q of [`itoken=${pk}`, `itoken=${pk.replaceAll('-', '')}`, `token=${pk}`]) {
        const r = await new Browser(srv.api).get('inv-only', q);
        assert.equal(r.body.component, 'xak-flow-redirect', q);
      }
      const expired = await invite(srv, { name: 'expired', expires: new Date(Date.now() - 60_000).toISOString() });
      assert.equal((await new Browser(srv.api).get('inv-only', `itoken=${expired}`)).body.error_message, DENIED);
      const signupFlow = (await call(srv, 'GET', '/flows/instances/signup/')).body.pk;
      const elsewhere = await invite(srv, { name: 'elsewhere', flow: signupFlow });
      assert.equal((await new Browser(srv.api).get('inv-only', `itoken=${elsewhere}`)).body.error_message, DENIED);
      // the event authentik records
      const events = await srv.app.store.db.selectFrom('events').select('context').where('action', '=', 'invitation_used').execute();
      assert.ok(events.some((e) => JSON.parse(e.context).invitation_uuid === pk.replaceAll('-', '')));
    });

    it('an enrollment with an invitation: fixed_data reaches the new user; single use spent by the user write', async () => {
      const signupFlow = (await call(srv, 'GET', '/flows/instances/signup/')).body.pk;
      const pk = await invite(srv, {
        name: 'for-carol',
        single_use: true,
        flow: signupFlow,
        fixed_data: { email: 'carol@example.com', name: 'Carol Fixed', 'attributes.department': 'research' },
      });
      const b = new Browser(srv.api);
      const first = await b.get('signup', `itoken=${pk}`);
      assert.equal(first.body.component, 'ak-stage-prompt');
      assert.ok(await exists(srv, pk), 'not spent before the user is written');
      const done = await b.solve('signup', { component: 'ak-stage-prompt', username: 'carol', password: 'carol-secret-1' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect');
      const me = (await b.me()).body.user;
      assert.equal(me.username, 'carol');
      assert.equal(me.email, 'carol@example.com');
      assert.equal(me.name, 'Carol Fixed');
      assert.deepEqual((await users(srv, 'carol'))[0].attributes, { department: 'research' });
      assert.equal(await exists(srv, pk), false, 'the single-use invitation is gone');
      const again = await new Browser(srv.api).get('signup', `itoken=${pk}`);
      assert.equal(again.body.error_message, DENIED);
    });

    it('the token from a prompt field `token`; a multi-use invitation stays', async () => {
      const pk = await invite(srv, { name: 'by-code', fixed_data: { email: 'code@example.com' } });
      for (const username of ['dave', 'erin']) {
        const b = new Browser(srv.api);
        assert.equal((await b.get('signup-by-code')).body.component, 'ak-stage-prompt');
        const next = await b.solve('signup-by-code', { component: 'ak-stage-prompt', token: pk } as never);
        assert.equal(next.body.component, 'ak-stage-prompt');
        assert.deepEqual(
          next.body.fields.map((f: { field_key: string }) => f.field_key),
          ['username', 'password'],
        );
        const done = await b.solve('signup-by-code', { component: 'ak-stage-prompt', username, password: 'a-secret-123' } as never);
        assert.equal(done.body.component, 'xak-flow-redirect');
        assert.equal((await users(srv, username))[0].email, 'code@example.com');
      }
      assert.ok(await exists(srv, pk));
      const wrong = new Browser(srv.api);
      await wrong.get('signup-by-code');
      const denied = await wrong.solve('signup-by-code', { component: 'ak-stage-prompt', token: 'nope' } as never);
      assert.equal(denied.body.error_message, DENIED);
    });

    it('a sign-up that fails at the user write keeps the single-use invitation', async () => {
      await createUser(srv, 'taken', 'taken-pass-12');
      const pk = await invite(srv, { name: 'kept', single_use: true });
      const b = new Browser(srv.api);
      await b.get('signup', `itoken=${pk}`);
      const failed = await b.solve('signup', { component: 'ak-stage-prompt', username: 'taken', password: 'whatever-123' } as never);
      assert.equal(failed.body.component, 'ak-stage-access-denied');
      assert.ok(await exists(srv, pk), 'the failed write did not spend it');
      const retry = new Browser(srv.api);
      await retry.get('signup', `itoken=${pk}`);
      const done = await retry.solve('signup', { component: 'ak-stage-prompt', username: 'frank', password: 'frank-secret-1' } as never);
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal(await exists(srv, pk), false);
    });

    it('sign-ups racing with one single-use invitation: exactly one user is created', async () => {
      const pk = await invite(srv, { name: 'race', single_use: true });
      const racers = Array.from({ length: 6 }, () => new Browser(srv.api));
      for (const b of racers) assert.equal((await b.get('signup', `itoken=${pk}`)).body.component, 'ak-stage-prompt');
      const answers = await Promise.all(
        racers.map((b, i) =>
          b.solve('signup', { component: 'ak-stage-prompt', username: `racer${i}`, password: 'racer-secret-1' } as never),
        ),
      );
      const won = answers.filter((a) => a.body.component === 'xak-flow-redirect');
      assert.equal(won.length, 1, JSON.stringify(answers.map((a) => a.body)));
      for (const a of answers.filter((x) => x.body.component !== 'xak-flow-redirect')) {
        assert.equal(a.body.component, 'ak-stage-access-denied');
        assert.equal(a.body.error_message, DENIED);
      }
      const created = (await call(srv, 'GET', '/core/users/?search=racer')).body.results;
      assert.equal(created.length, 1);
      assert.equal(await exists(srv, pk), false);
    });

    it('without a user write after it, a single-use invitation is spent by the stage: one of several racers passes', async () => {
      const pk = await invite(srv, { name: 'race-bare', single_use: true });
      const answers = await Promise.all(Array.from({ length: 6 }, () => new Browser(srv.api).get('inv-only', `itoken=${pk}`)));
      assert.equal(answers.filter((a) => a.body.component === 'xak-flow-redirect').length, 1);
      assert.equal(answers.filter((a) => a.body.error_message === DENIED).length, 5);
      assert.equal(await exists(srv, pk), false);
    });
  });
}
