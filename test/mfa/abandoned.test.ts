/**
 * Enrolments left unfinished: the setup stage's unconfirmed device shows in the admin device list until the hourly
 * clean-up removes it a day later; a device being enrolled now, and confirmed devices, stay.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { authHousekeeping } from '../../src/auth/housekeeping.js';

for (const dialect of dialects()) {
  describe(`abandoned enrolments (${dialect})`, () => {
    let srv: TestServer;
    let slug: string;
    before(async () => {
      srv = await startServer(dialect);
      const stages = await defaultStages(srv);
      const totp = await createStage(srv, '/stages/authenticator/totp/', { name: 'abandon-totp', digits: 6 });
      slug = await flowOf(srv, 'abandon-flow', [stages.identification, stages.password, totp]);
    });
    after(async () => srv.close());

    /** a login that stops at the TOTP setup stage: its unconfirmed device is written */
    async function startEnrolment(username: string): Promise<void> {
      await createUser(srv, username, `${username}-password-1`);
      const b = new Browser(srv.api);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: username });
      const ch = await b.solve(slug, { component: 'ak-stage-password', password: `${username}-password-1` });
      assert.equal(ch.body.component, 'ak-stage-authenticator-totp');
    }

    it('an unconfirmed device a day old is removed by the hourly clean-up; a new one and confirmed ones stay', async () => {
      await startEnrolment('abby');
      await startEnrolment('abe');
      const db = srv.app.store.db;
      const idOf = async (username: string) =>
        (await db.selectFrom('users').select('id').where('username', '=', username).executeTakeFirstOrThrow()).id;
      const abby = await idOf('abby');
      // a confirmed device of abby's, made by an admin, and her abandoned enrolment two days old
      const made = await call(srv, 'POST', '/authenticators/admin/static/', { name: 'kept', user: abby });
      assert.equal(made.status, 201, JSON.stringify(made.body));
      const twoDaysAgo = new Date(Date.now() - 48 * 3600_000).toISOString();
      await db.updateTable('totp_devices').set({ created: twoDaysAgo }).where('user_id', '=', abby).where('confirmed', '=', 0).execute();
      await db.updateTable('static_devices').set({ created: twoDaysAgo }).where('name', '=', 'kept').execute();
      const listed = async () => (await call(srv, 'GET', '/authenticators/admin/totp/?ordering=pk')).body.results.length as number;
      const users = async () =>
        (
          await db
            .selectFrom('totp_devices')
            .innerJoin('users', 'users.id', 'totp_devices.user_id')
            .select('users.username')
            .orderBy('users.username')
            .execute()
        ).map((r) => r.username);
      assert.deepEqual(await users(), ['abby', 'abe']);
      assert.equal(await listed(), 2, 'the admin list shows both enrolments until then');
      const counts = await authHousekeeping(db);
      assert.equal(counts.unconfirmed_devices, 1);
      assert.deepEqual(await users(), ['abe'], 'the enrolment in progress stays');
      assert.equal(await listed(), 1);
      const statics = await db.selectFrom('static_devices').select('name').where('name', '=', 'kept').execute();
      assert.deepEqual(statics, [{ name: 'kept' }], 'a confirmed device stays, however old');
    });
  });
}
