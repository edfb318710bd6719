/**
 * MFA enrolment during login: `not_configured_action: configure` runs the setup stage (or lets the person choose
 * among several); the new device is saved only after it is proven, and the next login asks for it.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateTOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';

for (const dialect of dialects()) {
  describe(`executor: MFA enrolment (${dialect})`, () => {
    let srv: TestServer;
    let totpSetup: string;
    let staticSetup: string;
    let single: string;
    let choice: string;
    before(async () => {
      srv = await startServer(dialect);
      const s = await defaultStages(srv);
      totpSetup = await createStage(srv, '/stages/authenticator/totp/', {
        name: 'enrol-totp',
        digits: 6,
        friendly_name: 'Authenticator app',
      });
      staticSetup = await createStage(srv, '/stages/authenticator/static/', { name: 'enrol-static', token_count: 3, token_length: 10 });
      const validateOne = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'enrol-validate-one',
        not_configured_action: 'configure',
        configuration_stages: [totpSetup],
      });
      const validateTwo = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'enrol-validate-two',
        not_configured_action: 'configure',
        configuration_stages: [totpSetup, staticSetup],
      });
      single = await flowOf(srv, 'enrol-single', [s.identification, s.password, validateOne, s.login]);
      choice = await flowOf(srv, 'enrol-choice', [s.identification, s.password, validateTwo, s.login]);
    });
    after(async () => srv.close());

    async function toMfa(slug: string, user: string) {
      const b = new BrowserSession(srv);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: user });
      return { b, ch: await b.solve(slug, { component: 'ak-stage-password', password: `${user}-password-1` }) };
    }
    const codeFrom = (url: string) => generateTOTP(decodeBase32IgnorePadding(new URL(url).searchParams.get('secret')!), 30, 6);

    it('one configuration stage: TOTP enrolment runs, a wrong code is refused, then the next login asks for the code', async () => {
      const id = await createUser(srv, 'uma', 'uma-password-1');
      const { b, ch } = await toMfa(single, 'uma');
      assert.equal(ch.component, 'ak-stage-authenticator-totp');
      assert.match(
        ch.config_url,
        /^otpauth:\/\/totp\/Keystage:uma\?secret=[A-Z2-7]+&algorithm=SHA1&digits=6&period=30&issuer=Keystage$/,
        'issuer: the brand title',
      );
      const unconfirmed = await srv.app.store.db.selectFrom('totp_devices').select(['confirmed']).where('user_id', '=', id).execute();
      assert.deepEqual(
        unconfirmed.map((d) => d.confirmed),
        [0],
        'not usable before it is proven',
      );
      const wrong = await b.solve(single, {
        component: 'ak-stage-authenticator-totp',
        code: '000000' === codeFrom(ch.config_url) ? '111111' : '000000',
      });
      assert.deepEqual(wrong.response_errors, { code: [{ string: 'Code does not match', code: 'invalid' }] });
      assert.equal(wrong.config_url, ch.config_url, 'the same device until it is proven');
      const done = await b.solve(single, { component: 'ak-stage-authenticator-totp', code: codeFrom(ch.config_url) });
      assert.equal(done.component, 'xak-flow-redirect');
      const rows = await srv.app.store.db.selectFrom('totp_devices').select(['confirmed', 'name']).where('user_id', '=', id).execute();
      assert.deepEqual(rows, [{ confirmed: 1, name: 'Authenticator app' }]);
      const again = await toMfa(single, 'uma');
      assert.equal(again.ch.component, 'ak-stage-authenticator-validate', 'not asked to enrol again');
      assert.equal(again.ch.device_challenges[0].device_class, 'totp');
    });

    it('several configuration stages: the person chooses; recovery codes are shown once and work once', async () => {
      const id = await createUser(srv, 'vic', 'vic-password-1');
      const { b, ch } = await toMfa(choice, 'vic');
      assert.equal(ch.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(ch.device_challenges, []);
      assert.deepEqual(
        ch.configuration_stages.map((s: { name: string; verbose_name: string; meta_model_name: string }) => [
          s.name,
          s.verbose_name,
          s.meta_model_name,
        ]),
        [
          ['Authenticator app', 'TOTP Authenticator', 'authentik_stages_authenticator_totp.authenticatortotpstage'],
          ['enrol-static', 'Static Authenticator', 'authentik_stages_authenticator_static.authenticatorstaticstage'],
        ],
        'in the configured order',
      );
      const bad = await b.solve(choice, {
        component: 'ak-stage-authenticator-validate',
        selected_stage: '00000000-0000-4000-8000-000000000000',
      });
      assert.deepEqual(bad.response_errors, { selected_stage: [{ string: 'Selected stage is invalid', code: 'invalid' }] });
      const codes = await b.solve(choice, { component: 'ak-stage-authenticator-validate', selected_stage: staticSetup });
      assert.equal(codes.component, 'ak-stage-authenticator-static');
      assert.equal(codes.codes.length, 3);
      assert.ok(codes.codes.every((c: string) => /^[A-Za-z0-9]{10}$/.test(c)));
      const stored = await srv.app.store.db
        .selectFrom('static_tokens')
        .innerJoin('static_devices', 'static_devices.id', 'static_tokens.device_id')
        .select('token')
        .where('user_id', '=', id)
        .execute();
      assert.ok(
        stored.every((s) => !codes.codes.includes(s.token)),
        'stored hashed',
      );
      assert.equal((await b.solve(choice, { component: 'ak-stage-authenticator-static' })).component, 'xak-flow-redirect');
      const use = await toMfa(choice, 'vic');
      assert.equal(use.ch.component, 'ak-stage-authenticator-validate');
      assert.equal(
        (await use.b.solve(choice, { component: 'ak-stage-authenticator-validate', code: codes.codes[0] })).component,
        'xak-flow-redirect',
      );
      await new Promise((r) => setTimeout(r, 10));
      const twice = await toMfa(choice, 'vic');
      assert.equal(
        (await twice.b.solve(choice, { component: 'ak-stage-authenticator-validate', code: codes.codes[0] })).component,
        'ak-stage-authenticator-validate',
        'a code works once',
      );
    });

    it('a device enrolled during login is audited: model_created by its owner, the device in the context', async () => {
      const id = await createUser(srv, 'ada', 'ada-password-1');
      const { b, ch } = await toMfa(single, 'ada');
      assert.equal(
        (await b.solve(single, { component: 'ak-stage-authenticator-totp', code: codeFrom(ch.config_url) })).component,
        'xak-flow-redirect',
      );
      const totp = await srv.app.store.db.selectFrom('totp_devices').select('id').where('user_id', '=', id).executeTakeFirstOrThrow();
      const other = await createUser(srv, 'bob-codes', 'bob-codes-password-1');
      const c = await toMfa(choice, 'bob-codes');
      await c.b.solve(choice, { component: 'ak-stage-authenticator-validate', selected_stage: staticSetup });
      assert.equal((await c.b.solve(choice, { component: 'ak-stage-authenticator-static' })).component, 'xak-flow-redirect');
      const codes = await srv.app.store.db
        .selectFrom('static_devices')
        .select(['id', 'name'])
        .where('user_id', '=', other)
        .executeTakeFirstOrThrow();

      const r = await call(srv, 'GET', '/events/events/?action=model_created&username=ada');
      assert.equal(r.status, 200);
      assert.equal(r.body.results.length, 1);
      const ev = r.body.results[0];
      assert.deepEqual(ev.user, { pk: id, username: 'ada', email: 'ada@example.com' });
      assert.equal(ev.client_ip, '127.0.0.1');
      assert.deepEqual(ev.context.model, {
        app: 'authentik_stages_authenticator_totp',
        model_name: 'totpdevice',
        pk: totp.id,
        name: 'Authenticator app',
      });
      const s2 = await call(srv, 'GET', '/events/events/?action=model_created&username=bob-codes');
      assert.deepEqual(
        s2.body.results.map((e: { context: { model: unknown } }) => e.context.model),
        [{ app: 'authentik_stages_authenticator_static', model_name: 'staticdevice', pk: codes.id, name: codes.name }],
      );
    });

    it('abandoning enrolment leaves no usable device; starting again does not skip it', async () => {
      const id = await createUser(srv, 'wes', 'wes-password-1');
      const first = await toMfa(single, 'wes');
      assert.equal(first.ch.component, 'ak-stage-authenticator-totp');
      // a new tab: the person must still enrol before getting in
      const second = await toMfa(single, 'wes');
      assert.equal(second.ch.component, 'ak-stage-authenticator-totp');
      const usable = await srv.app.store.db
        .selectFrom('totp_devices')
        .select('id')
        .where('user_id', '=', id)
        .where('confirmed', '=', 1)
        .execute();
      assert.equal(usable.length, 0);
    });
  });
}
