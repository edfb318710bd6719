/**
 * Unknown users must look like known users with a wrong password: with pretend_user_exists the flow goes on to the
 * password stage and fails there exactly as for a real account; without it the identification stage says only
 * "Failed to authenticate."; with the password embedded in identification both cases are byte-identical.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, startServer, type TestServer } from '../../helpers/server.js';
import { Browser, type Answer } from '../../helpers/browser.js';
import { bindSkipPolicy, createStage, createUser, defaultStages, flowOf, sessionRow, withoutUser } from '../../helpers/flows.js';

const FLOW = 'default-authentication-flow';
const FAILED = { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] };

for (const dialect of dialects()) {
  describe(`flow unknown users (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      srv = await startServer(dialect, { lockout: { accountIpLimit: 10, accountLimit: 100, ipLimit: 300, slowAfter: 100 } });
      stages = await defaultStages(srv);
      await createUser(srv, 'kim', 'kim-pass-1');
    });
    after(async () => srv.close());

    const userCount = async () => (await srv.app.store.db.selectFrom('users').select('id').execute()).length;

    /** identification then a wrong password in the default flow; returns both answers */
    async function wrongPassword(uid: string): Promise<{ pw: Answer; wrong: Answer; b: Browser }> {
      const b = new Browser(srv.api);
      await b.get(FLOW);
      const pw = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: uid });
      const wrong = await b.solve(FLOW, { component: 'ak-stage-password', password: 'definitely-wrong' });
      return { pw, wrong, b };
    }

    it('pretend_user_exists: an unknown user reaches the password stage and fails as a real user does', async () => {
      const users = await userCount();
      const real = await wrongPassword('kim');
      const fake = await wrongPassword('nobody-here');
      assert.equal(fake.pw.body.component, 'ak-stage-password');
      assert.equal(fake.pw.body.pending_user, 'nobody-here');
      assert.deepEqual(
        fake.pw.hops.map((h) => h.status),
        real.pw.hops.map((h) => h.status),
      );
      assert.equal(fake.wrong.status, real.wrong.status);
      assert.deepEqual(real.wrong.body.response_errors, { password: [{ string: 'Invalid password', code: 'invalid' }] });
      assert.deepEqual(withoutUser(fake.wrong.body), withoutUser(real.wrong.body), 'identical apart from pending_user');
      assert.equal(real.wrong.body.pending_user, 'kim');
      assert.equal(fake.wrong.body.pending_user, 'nobody-here');
      // nothing was created for the unknown name; the plan carries an unsaved placeholder
      assert.equal(await userCount(), users);
      assert.equal((await sessionRow(srv, fake.b.session))?.data.plan?.context.pendingUser.id, null);
      // and it can never log in, whatever the password
      const again = await fake.b.solve(FLOW, { component: 'ak-stage-password', password: 'kim-pass-1' });
      assert.deepEqual(withoutUser(again.body), withoutUser(real.wrong.body));
    });

    it('pretend_user_exists false: "Failed to authenticate." on the identification stage', async () => {
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'no-pretend',
        user_fields: ['username', 'email'],
        pretend_user_exists: false,
      });
      const slug = await flowOf(srv, 'no-pretend', [ident, stages.password, stages.login]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'nobody-here' });
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.hops.map((h) => h.status),
        [200],
      );
      assert.equal(r.body.component, 'ak-stage-identification');
      assert.deepEqual(r.body.response_errors, FAILED);
      const empty = await b.solve(slug, { component: 'ak-stage-identification', uidField: '' });
      assert.deepEqual(empty.body.response_errors, { non_field_errors: [{ string: 'No identification data provided.', code: 'invalid' }] });
      // a real user still gets through
      assert.equal((await b.solve(slug, { component: 'ak-stage-identification', uidField: 'kim' })).body.component, 'ak-stage-password');
    });

    it('password embedded in identification: unknown user and wrong password give identical answers', async () => {
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'embedded-pw',
        user_fields: ['username', 'email'],
        password_stage: stages.password,
      });
      const slug = await flowOf(srv, 'embedded-pw', [ident, stages.password, stages.login]);
      await bindSkipPolicy(srv, slug, stages.password);
      const attempt = async (uid: string, password: string) => {
        const b = new Browser(srv.api);
        const ch = await b.get(slug);
        assert.equal(ch.body.password_fields, true);
        return { b, r: await b.solve(slug, { component: 'ak-stage-identification', uidField: uid, password }) };
      };
      const since = new Date(Date.now() - 1).toISOString();
      const wrong = await attempt('kim', 'definitely-wrong');
      const unknown = await attempt('nobody-here', 'definitely-wrong');
      assert.deepEqual(wrong.r.body.response_errors, FAILED);
      assert.deepEqual(unknown.r.body, wrong.r.body, 'byte-for-byte the same challenge');
      assert.equal(unknown.r.status, wrong.r.status);
      assert.deepEqual(
        unknown.r.hops.map((h) => h.status),
        wrong.r.hops.map((h) => h.status),
      );
      for (const { b } of [wrong, unknown]) assert.equal((await sessionRow(srv, b.session))?.user_id, null);
      // the events as authentik's: the wrong password is a login_failed tied to kim; the unknown user writes none
      // (this stage meets anonymous traffic at high rates: only the reputation of what was typed drops)
      const failed = await srv.app.store.db
        .selectFrom('events')
        .select(['username', 'context'])
        .where('action', '=', 'login_failed')
        .where('created', '>=', since)
        .execute();
      const mine = failed.filter((e) => ['kim', 'nobody-here'].includes(JSON.parse(e.context).username));
      assert.deepEqual(
        mine.map((e) => [e.username, JSON.parse(e.context).username]),
        [['kim', 'kim']],
      );

      // the right password passes identification, skips the password stage and logs in
      const ok = await attempt('kim', 'kim-pass-1');
      assert.deepEqual(ok.r.body, { component: 'xak-flow-redirect', to: '/', final_redirect: true });
      assert.equal((await ok.b.me()).body.user.username, 'kim');
    });
  });
}
