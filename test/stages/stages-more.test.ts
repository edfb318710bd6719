/**
 * More stage options with visible effect: imported authentik/Django password hashes (and their upgrade to
 * argon2id), UPN matching, show_matched_user, flow links, and the user login stage's session settings.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { pbkdf2Sync } from 'node:crypto';
import { hash } from '@node-rs/argon2';
import { call, dialects, PRODUCTION_ARGON2, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { sessionKeyOf } from '../../src/sessions/session-hash.js';

const FLOW = 'default-authentication-flow';

for (const dialect of dialects()) {
  describe(`executor: more stage options (${dialect})`, () => {
    let srv: TestServer;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      // the upgraded hashes' parameters are asserted: the defaults, not the test servers' cheap ones
      srv = await startServer(dialect, { argon2: PRODUCTION_ARGON2 });
      stages = await defaultStages(srv);
    });
    after(async () => srv.close());

    async function login(uid: string, password: string, slug = FLOW, b = new BrowserSession(srv)) {
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: uid });
      return { b, result: await b.solve(slug, { component: 'ak-stage-password', password }) };
    }
    const storedHash = async (id: number) =>
      (await srv.app.store.db.selectFrom('users').select('password').where('id', '=', id).executeTakeFirstOrThrow()).password;

    it('an imported Django pbkdf2_sha256 hash verifies and is re-hashed to argon2id at login', async () => {
      const id = await createUser(srv, 'imported-pbkdf2', 'ignored-1');
      const salt = 'abcdefghijklmnop';
      const digest = pbkdf2Sync('legacy password 1', salt, 1000, 32, 'sha256').toString('base64');
      await srv.app.store.db
        .updateTable('users')
        .set({ password: `pbkdf2_sha256$1000$${salt}$${digest}` })
        .where('id', '=', id)
        .execute();
      assert.equal((await login('imported-pbkdf2', 'wrong')).result.component, 'ak-stage-password');
      assert.match(await storedHash(id), /^pbkdf2_sha256\$/, 'a failed login does not touch the hash');
      assert.equal((await login('imported-pbkdf2', 'legacy password 1')).result.component, 'xak-flow-redirect');
      assert.match(await storedHash(id), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
      assert.equal((await login('imported-pbkdf2', 'legacy password 1')).result.component, 'xak-flow-redirect', 'the new hash works');
    });

    it("an imported Django argon2 hash (authentik's default) verifies and is upgraded", async () => {
      const id = await createUser(srv, 'imported-argon2', 'ignored-1');
      const phc = await hash('legacy password 2', { memoryCost: 8192, timeCost: 1, parallelism: 1, algorithm: 2 });
      await srv.app.store.db
        .updateTable('users')
        .set({ password: `argon2${phc}` })
        .where('id', '=', id)
        .execute();
      assert.equal((await login('imported-argon2', 'legacy password 2')).result.component, 'xak-flow-redirect');
      assert.match(await storedHash(id), /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    });

    it('an inactive user cannot log in and gets the same answer as a wrong password', async () => {
      const id = await createUser(srv, 'inactive', 'inactive-password-1');
      await call(srv, 'PATCH', `/core/users/${id}/`, { is_active: false });
      const r = (await login('inactive', 'inactive-password-1')).result;
      assert.deepEqual(r.response_errors, { password: [{ string: 'Invalid password', code: 'invalid' }] });
    });

    it('UPN matching, show_matched_user off (the typed text is shown), and the flow links', async () => {
      await createUser(srv, 'upn-user', 'upn-password-1', { attributes: { upn: 'upn.user@corp.example' } });
      const enroll = await flowOf(srv, 'links-enroll', [], { designation: 'enrollment' });
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'upn-id',
        user_fields: ['upn'],
        show_matched_user: false,
        pretend_user_exists: false,
        enrollment_flow: (await call(srv, 'GET', `/flows/instances/${enroll}/`)).body.pk,
      });
      const slug = await flowOf(srv, 'upn-flow', [ident, stages.password, stages.login]);
      const b = new BrowserSession(srv);
      const ch = await b.get(slug, 'next=%2Fapp');
      assert.equal(ch.enroll_url, '/if/flow/links-enroll/?next=%2Fapp');
      const pw = await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'UPN.User@corp.example' }, 'next=%2Fapp');
      assert.equal(pw.component, 'ak-stage-password');
      assert.equal(pw.pending_user, 'UPN.User@corp.example', 'what was typed, not the account name');
      assert.equal((await b.solve(slug, { component: 'ak-stage-password', password: 'upn-password-1' }, 'next=%2Fapp')).to, '/app');
    });

    it('user_fields order decides which account an identifier names (one on its username, another on its e-mail)', async () => {
      await createUser(srv, 'Shared@Corp.example', 'order-password-1', { email: 'order-by-username@example.com' });
      await createUser(srv, 'order-by-email', 'order-password-2', { email: 'shared@corp.example' });
      const matched = async (fields: string[], caseInsensitive: boolean) => {
        const ident = await createStage(srv, '/stages/identification/', {
          name: `order-${fields.join('-')}-${caseInsensitive}`,
          user_fields: fields,
          case_insensitive_matching: caseInsensitive,
          pretend_user_exists: false,
        });
        const slug = await flowOf(srv, `order-${fields.join('-')}-${caseInsensitive}`, [ident, stages.password, stages.login]);
        const b = new BrowserSession(srv);
        await b.get(slug);
        const r = await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'shared@corp.example' });
        return r.component === 'ak-stage-password' ? r.pending_user : r.component;
      };
      assert.equal(await matched(['username', 'email'], true), 'Shared@Corp.example');
      assert.equal(await matched(['email', 'username'], true), 'order-by-email');
      // case-sensitive: the username differs in case, so only the e-mail matches
      assert.equal(await matched(['username', 'email'], false), 'order-by-email');
    });

    it('user login: session_duration sets the expiry; remember me adds its offset; terminate_other_sessions ends the others', async () => {
      await createUser(srv, 'sessions-user', 'sessions-password-1');
      const loginStage = await createStage(srv, '/stages/user_login/', {
        name: 'session-login',
        session_duration: 'minutes=10',
        remember_me_offset: 'days=1',
        terminate_other_sessions: true,
      });
      const slug = await flowOf(srv, 'session-flow', [stages.identification, stages.password, loginStage]);
      const sessionRow = async (b: BrowserSession) =>
        srv.app.store.db
          .selectFrom('sessions')
          .selectAll()
          .where('session_key', '=', sessionKeyOf(b.cookies.get('authentik_session')!))
          .executeTakeFirst();

      const first = new BrowserSession(srv);
      const ch = (await login('sessions-user', 'sessions-password-1', slug, first)).result;
      assert.equal(ch.component, 'ak-stage-user-login', 'remember_me_offset > 0 asks');
      const invalid = await first.solve(slug, { component: 'ak-stage-user-login', remember_me: 'perhaps' });
      assert.deepEqual(invalid.response_errors, { remember_me: [{ string: 'Must be a valid boolean.', code: 'invalid' }] });
      assert.equal((await first.solve(slug, { component: 'ak-stage-user-login', remember_me: false })).component, 'xak-flow-redirect');
      const r1 = await sessionRow(first);
      const ttl1 = new Date(r1!.expires).getTime() - Date.now();
      assert.ok(ttl1 > 9 * 60_000 && ttl1 <= 10 * 60_000 + 2000, `~10 minutes, got ${ttl1} ms`);

      const second = new BrowserSession(srv);
      await login('sessions-user', 'sessions-password-1', slug, second);
      assert.equal((await second.solve(slug, { component: 'ak-stage-user-login', remember_me: true })).component, 'xak-flow-redirect');
      const r2 = await sessionRow(second);
      const ttl2 = new Date(r2!.expires).getTime() - Date.now();
      assert.ok(ttl2 > 86_400_000, 'remember me adds a day');
      assert.equal(await sessionRow(first), undefined, 'the first session was terminated');
    });
  });
}
