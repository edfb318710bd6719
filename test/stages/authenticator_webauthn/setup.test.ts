/**
 * WebAuthn registration through the executor with a software authenticator (test/helpers/soft-webauthn.ts): a
 * credential is stored for its user; a credential ID another user has already registered is refused with
 * authentik's "Credential ID already exists." and stores nothing, also when two people register it at once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createUser, loggedIn } from '../../helpers/flows.js';
import type { Browser } from '../../helpers/browser.js';
import { SoftAuthenticator } from '../../helpers/soft-webauthn.js';

const FLOW = 'default-authenticator-webauthn-setup';

for (const dialect of dialects()) {
  describe(`executor: WebAuthn registration (${dialect})`, () => {
    let srv: TestServer;
    before(async () => {
      srv = await startServer(dialect);
    });
    after(async () => srv.close());

    const origin = () => new URL(srv.api).origin;
    async function person(name: string): Promise<Browser> {
      await createUser(srv, name, `${name}-password-1`);
      return loggedIn(srv, name, `${name}-password-1`);
    }
    /** opens the setup flow and answers its registration with `authenticator` */
    async function register(b: Browser, authenticator: SoftAuthenticator) {
      const ch = await b.get(FLOW);
      assert.equal(ch.body.component, 'ak-stage-authenticator-webauthn', JSON.stringify(ch.body));
      return b.solve(FLOW, {
        component: 'ak-stage-authenticator-webauthn',
        response: authenticator.register(ch.body.registration, origin()),
      });
    }
    const devicesOf = (username: string) =>
      srv.app.store.db
        .selectFrom('webauthn_devices')
        .innerJoin('users', 'users.id', 'webauthn_devices.user_id')
        .select(['credential_id', 'users.username'])
        .where('users.username', '=', username)
        .execute();

    it('a credential is stored for its user; the same credential ID for another user is refused and stores nothing', async () => {
      const mine = new SoftAuthenticator();
      const done = await register(await person('wa-first'), mine);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.deepEqual(await devicesOf('wa-first'), [{ credential_id: mine.id, username: 'wa-first' }]);

      const other = await person('wa-second');
      const refused = await register(other, new SoftAuthenticator(mine.credentialId));
      assert.equal(refused.status, 200);
      assert.equal(refused.body.component, 'ak-stage-authenticator-webauthn');
      assert.deepEqual(refused.body.response_errors, { response: [{ string: 'Credential ID already exists.', code: 'invalid' }] });
      assert.deepEqual(await devicesOf('wa-second'), []);
      assert.deepEqual(await devicesOf('wa-first'), [{ credential_id: mine.id, username: 'wa-first' }]);
      // the person may go on with an authenticator of their own
      const own = new SoftAuthenticator();
      const retry = await register(other, own);
      assert.equal(retry.body.component, 'xak-flow-redirect', JSON.stringify(retry.body));
      assert.deepEqual(await devicesOf('wa-second'), [{ credential_id: own.id, username: 'wa-second' }]);
    });

    it('two people registering one new credential ID at once: one device, the other gets the field error', async () => {
      const shared = new SoftAuthenticator();
      const people = await Promise.all(['wa-race-1', 'wa-race-2', 'wa-race-3'].map(person));
      const challenges = await Promise.all(people.map((b) => b.get(FLOW)));
      const answers = await Promise.all(
        people.map((b, i) =>
          b.solve(FLOW, {
            component: 'ak-stage-authenticator-webauthn',
            response: new SoftAuthenticator(shared.credentialId).register(challenges[i]!.body.registration, origin()),
          }),
        ),
      );
      const passed = answers.filter((a) => a.body.component === 'xak-flow-redirect');
      const refused = answers.filter((a) => a.body.component === 'ak-stage-authenticator-webauthn');
      assert.equal(passed.length, 1, JSON.stringify(answers.map((a) => a.body)));
      assert.equal(refused.length, 2, JSON.stringify(answers.map((a) => a.body)));
      for (const r of refused)
        assert.deepEqual(r.body.response_errors, { response: [{ string: 'Credential ID already exists.', code: 'invalid' }] });
      const rows = await srv.app.store.db.selectFrom('webauthn_devices').select('user_id').where('credential_id', '=', shared.id).execute();
      assert.equal(rows.length, 1);
    });
  });
}
