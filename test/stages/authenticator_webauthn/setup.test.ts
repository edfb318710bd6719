/**
 * WebAuthn registration through the executor with a software authenticator (test/helpers/soft-webauthn.ts): a
 * credential is stored for its user; a credential ID another user has already registered is refused with
 * authentik's "Credential ID already exists." and stores nothing, also when two people register it at once; and each
 * of the stage's settings has its effect (the options a browser is given, hints, user verification, device types with
 * authentik's pseudo type for unknown models, the device's name, max_attempts), with authentik's messages.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { createStage, createUser, flowOf, loggedIn } from '../../helpers/flows.js';
import type { Browser } from '../../helpers/browser.js';
import { SoftAuthenticator } from '../../helpers/soft-webauthn.js';

const FLOW = 'default-authenticator-webauthn-setup';
const YUBIKEY_5 = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
/** a model outside the restriction (Google Password Manager) */
const OTHER_MODEL = 'ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4';
/** authentik's pseudo device type "authentik: Unknown devices" */
const UNKNOWN = '00000000-0000-0000-0000-000000000000';

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
    /** opens the setup flow (`flow`) and answers its registration with `authenticator` */
    async function register(
      b: Browser,
      authenticator: SoftAuthenticator,
      flow = FLOW,
      opts: { userVerified?: boolean; aaguid?: string } = {},
    ) {
      const ch = await b.get(flow);
      assert.equal(ch.body.component, 'ak-stage-authenticator-webauthn', JSON.stringify(ch.body));
      return b.solve(flow, {
        component: 'ak-stage-authenticator-webauthn',
        response: authenticator.register(ch.body.registration, origin(), opts),
      });
    }
    /** a setup flow of one WebAuthn setup stage with `settings`; its slug */
    let flows = 0;
    async function setupFlow(settings: Record<string, unknown>): Promise<string> {
      const stage = await createStage(srv, '/stages/authenticator/webauthn/', { name: `wa-setup-${++flows}`, ...settings });
      return flowOf(srv, `wa-setup-${flows}`, [stage], { designation: 'stage_configuration' });
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

    it("the stage's settings shape the options a browser is given", async () => {
      const flow = await setupFlow({
        user_verification: 'required',
        resident_key_requirement: 'discouraged',
        authenticator_attachment: 'cross-platform',
        hints: ['security-key'],
        device_type_restrictions: [YUBIKEY_5],
      });
      const b = await person('wa-options');
      const ch = await b.get(flow);
      const o = ch.body.registration;
      assert.deepEqual(o.authenticatorSelection, {
        userVerification: 'required',
        residentKey: 'discouraged',
        requireResidentKey: false,
        authenticatorAttachment: 'cross-platform',
      });
      assert.deepEqual(o.hints, ['security-key']);
      // as authentik's: the authenticator's attestation asked for (its model), py_webauthn's algorithms, the uid as handle
      assert.equal(o.attestation, 'direct');
      assert.deepEqual(
        o.pubKeyCredParams.map((p: { alg: number }) => p.alg),
        [-7, -8, -36, -37, -38, -39, -257, -258, -259],
      );
      assert.equal(o.rp.id, '127.0.0.1');
      assert.equal(o.user.name, 'wa-options');
      const uid = (await call(srv, 'GET', '/core/users/?username=wa-options')).body.results[0].uid;
      assert.equal(Buffer.from(o.user.id, 'base64url').toString(), uid);
      assert.deepEqual(o.excludeCredentials, []);
      // a registered credential is excluded the next time
      const open = await register(b, new SoftAuthenticator(), await setupFlow({}));
      assert.equal(open.body.component, 'xak-flow-redirect', JSON.stringify(open.body));
      const again = await b.get(await setupFlow({}));
      const [device] = await devicesOf('wa-options');
      assert.deepEqual(
        again.body.registration.excludeCredentials.map((c: { id: string }) => c.id),
        [device!.credential_id],
      );
      assert.equal(again.body.registration.attestation, 'direct');
    });

    it('user_verification required refuses a registration without user verification', async () => {
      const flow = await setupFlow({ user_verification: 'required' });
      const b = await person('wa-uv');
      const refused = await register(b, new SoftAuthenticator(), flow, { userVerified: false });
      assert.deepEqual(refused.body.response_errors, {
        response: [{ string: 'Registration failed. Please contact your administrator.', code: 'invalid' }],
      });
      assert.deepEqual(await devicesOf('wa-uv'), []);
      const done = await register(b, new SoftAuthenticator(), flow, { userVerified: true });
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal((await devicesOf('wa-uv')).length, 1);
    });

    it('device_type_restrictions admits the listed models only, and the device is named after its model', async () => {
      const flow = await setupFlow({ device_type_restrictions: [YUBIKEY_5] });
      const b = await person('wa-types');
      for (const aaguid of [undefined, OTHER_MODEL]) {
        const refused = await register(b, new SoftAuthenticator(), flow, aaguid ? { aaguid } : {});
        assert.deepEqual(refused.body.response_errors, {
          response: [{ string: 'Invalid device type. Contact your Keystage administrator for help.', code: 'invalid' }],
        });
      }
      assert.deepEqual(await devicesOf('wa-types'), []);
      const done = await register(b, new SoftAuthenticator(), flow, { aaguid: YUBIKEY_5 });
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      const stored = () =>
        srv.app.store.db
          .selectFrom('webauthn_devices')
          .innerJoin('users', 'users.id', 'webauthn_devices.user_id')
          .select(['webauthn_devices.name', 'aaguid'])
          .where('users.username', '=', 'wa-types')
          .orderBy('webauthn_devices.id')
          .execute();
      assert.deepEqual(await stored(), [{ name: 'YubiKey 5 Series', aaguid: YUBIKEY_5 }]);
      // friendly_name, when set, names the device instead (the brand's title is in the refusal: Keystage's default brand)
      const named = await setupFlow({ friendly_name: 'Work key' });
      assert.equal((await register(b, new SoftAuthenticator(), named, { aaguid: YUBIKEY_5 })).body.component, 'xak-flow-redirect');
      assert.deepEqual(
        (await stored()).map((d) => d.name),
        ['YubiKey 5 Series', 'Work key'],
      );
    });

    it('the pseudo type "authentik: Unknown devices" admits models without a device type, and only those', async () => {
      const types = await call(srv, 'GET', '/stages/authenticator/webauthn_device_types/?page_size=100');
      assert.ok(
        types.body.results.some(
          (t: { aaguid: string; description: string }) => t.aaguid === UNKNOWN && t.description === 'authentik: Unknown devices',
        ),
      );
      const flow = await setupFlow({ device_type_restrictions: [UNKNOWN] });
      const b = await person('wa-unknown');
      // a model Keystage knows (and the stage does not list) is refused
      const refused = await register(b, new SoftAuthenticator(), flow, { aaguid: OTHER_MODEL });
      assert.deepEqual(refused.body.response_errors, {
        response: [{ string: 'Invalid device type. Contact your Keystage administrator for help.', code: 'invalid' }],
      });
      // a model without a device type, and an authenticator that names no model, are admitted
      for (const opts of [{ aaguid: '6e24d385-004a-16a0-e1de-8ed5c1e2e6e9' }, {}]) {
        const done = await register(b, new SoftAuthenticator(), flow, opts);
        assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      }
      assert.equal((await devicesOf('wa-unknown')).length, 2);
    });

    it('hints that agree on an attachment ask for it when the stage names none (upstream: for clients without hints)', async () => {
      const b = await person('wa-hints');
      const selection = async (settings: Record<string, unknown>) => (await b.get(await setupFlow(settings))).body.registration;
      const cases: [Record<string, unknown>, string | undefined][] = [
        [{ hints: ['security-key'] }, 'cross-platform'],
        [{ hints: ['hybrid', 'security-key'] }, 'cross-platform'],
        [{ hints: ['client-device'] }, 'platform'],
        [{ hints: ['security-key', 'client-device'] }, undefined],
        [{ hints: ['security-key'], authenticator_attachment: 'platform' }, 'platform'],
        [{}, undefined],
      ];
      for (const [settings, attachment] of cases) {
        const o = await selection(settings);
        assert.equal(o.authenticatorSelection.authenticatorAttachment, attachment, JSON.stringify(settings));
        // the hints go out as set, in their order
        assert.deepEqual(o.hints, (settings.hints as string[] | undefined)?.length ? settings.hints : undefined);
      }
    });

    it('max_attempts failures end the flow', async () => {
      const flow = await setupFlow({ user_verification: 'required', max_attempts: 2 });
      const b = await person('wa-attempts');
      const first = await register(b, new SoftAuthenticator(), flow, { userVerified: false });
      assert.equal(first.body.component, 'ak-stage-authenticator-webauthn');
      const second = await b.solve(flow, {
        component: 'ak-stage-authenticator-webauthn',
        response: new SoftAuthenticator().register(first.body.registration, origin(), { userVerified: false }),
      });
      assert.equal(second.body.component, 'ak-stage-access-denied', JSON.stringify(second.body));
      assert.equal(second.body.error_message, 'Exceeded maximum attempts. Contact your Keystage administrator for help.');
      assert.deepEqual(await devicesOf('wa-attempts'), []);
    });
  });
}
