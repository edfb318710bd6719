/**
 * Behavioural cases of the flow-engine reference (flow-engine.md §5) that no other file covers: E7, E17, title
 * placeholders, P2, P10, I2, I12, V6, V18, V20, V22, L6. Each assertion is the reference's behaviour.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_PASSWORD, dialects, startServer, type TestServer } from '../helpers/server.js';
import { Browser } from '../helpers/browser.js';
import { SmtpSink } from '../helpers/fake-providers.js';
import { createStage, createUser, defaultStages, flowOf, sessionRow } from '../helpers/flows.js';
import { addTotpDevice } from '../helpers/devices.js';
import { currentStep, totpAt } from '../../src/mfa/totp/totp.js';

const FLOW = 'default-authentication-flow';
const BACKGROUND = '/static/dist/assets/images/flow_background.jpg';
const INVALID_TOKEN = 'Invalid Token. Please ensure the time on your device is accurate and try again.';
const YUBIKEY_5 = 'cb69481e-8ff7-4039-93ec-0a2729a154a8';
const YUBIKEY_5_NFC = '2fc0579f-8113-47ea-b116-bb5a8db9202a';
const now = () => new Date().toISOString();
const totpCode = (key: string) => totpAt(key, currentStep({ t0: 0, step: 30 }), 6);

for (const dialect of dialects()) {
  describe(`flow-engine reference cases (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    let stages: Awaited<ReturnType<typeof defaultStages>>;
    before(async () => {
      smtp = await new SmtpSink().start();
      srv = await startServer(dialect);
      stages = await defaultStages(srv);
    });
    after(async () => {
      await srv.close();
      await smtp.close();
    });

    /** identification → password through `slug` in a fresh (or the given) browser; returns the password POST's answer */
    async function logIn(slug: string, username: string, password: string, b = new Browser(srv.api)) {
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uidField: username });
      return { b, done: await b.solve(slug, { component: 'ak-stage-password', password }) };
    }
    async function totpDevice(userId: number) {
      const { id: device, key } = await addTotpDevice(srv.app.store.db, userId);
      return { key, device };
    }

    it('E7: a flow without bindings ends at once with a redirect to "/"', async () => {
      const slug = await flowOf(srv, 'ref-empty', []);
      const r = await new Browser(srv.api).get(slug);
      assert.equal(r.status, 200);
      assert.equal(r.body.component, 'xak-flow-redirect');
      assert.equal(r.body.to, '/');
    });

    it('E17: the full flow_info of a password challenge reached with query next=/foo', async () => {
      const ident = await createStage(srv, '/stages/identification/', { name: 'ref-e17-id', user_fields: ['email'] });
      const slug = await flowOf(srv, 'ref-e17', [ident, stages.password], { title: 'Reference E17', designation: 'stage_configuration' });
      const b = new Browser(srv.api);
      await b.get(slug, 'next=%2Ffoo');
      const r = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'nobody@example.com' }, 'next=%2Ffoo');
      assert.equal(r.status, 200);
      assert.equal(r.body.component, 'ak-stage-password');
      assert.deepEqual(r.body.flow_info, {
        background: BACKGROUND,
        background_themed_urls: null,
        cancel_url: '/flows/-/cancel/?next=%2Ffoo',
        layout: 'stacked',
        title: 'Reference E17',
      });
    });

    it('flow title: %(user)s is the display user, %(app)s the application (none here ⇒ empty)', async () => {
      await createUser(srv, 'tia', 'tia-password-1');
      const hidden = await createStage(srv, '/stages/identification/', {
        name: 'ref-title-hidden',
        user_fields: ['username', 'email'],
        show_matched_user: false,
      });
      const matched = await createStage(srv, '/stages/identification/', {
        name: 'ref-title-shown',
        user_fields: ['username', 'email'],
        show_matched_user: true,
      });
      const shown = await flowOf(srv, 'ref-title', [matched, stages.password, stages.login], { title: 'Hi %(user)s[%(app)s]' });
      const typed = await flowOf(srv, 'ref-title-typed', [hidden, stages.password, stages.login], { title: 'Hi %(user)s[%(app)s]' });
      const a = new Browser(srv.api);
      await a.get(shown);
      const pa = await a.solve(shown, { component: 'ak-stage-identification', uidField: 'TIA@example.com' });
      assert.equal(pa.body.flow_info.title, 'Hi tia[]', 'the matched account');
      const b = new Browser(srv.api);
      await b.get(typed);
      const pb = await b.solve(typed, { component: 'ak-stage-identification', uidField: 'TIA@example.com' });
      assert.equal(pb.body.flow_info.title, 'Hi TIA@example.com[]', 'show_matched_user false: the typed text');
    });

    it('flow title: a title that fails to format is shown raw', async () => {
      const slug = await flowOf(srv, 'ref-title-raw', [stages.identification, stages.password], { title: '%(user)s / %(unknown)s' });
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'tia' });
      assert.equal(r.body.component, 'ak-stage-password');
      assert.equal(r.body.flow_info.title, '%(user)s / %(unknown)s');
    });

    it('P2: require_superuser refuses anonymous and a normal user; a superuser runs the flow', async () => {
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'ref-p2-dummy' });
      const slug = await flowOf(srv, 'ref-p2', [dummy], { designation: 'stage_configuration', authentication: 'require_superuser' });
      const anon = await new Browser(srv.api).get(slug);
      assert.equal(anon.body.component, 'ak-stage-access-denied');
      await createUser(srv, 'norm', 'norm-password-1');
      const normal = await logIn(FLOW, 'norm', 'norm-password-1');
      assert.equal(normal.done.body.component, 'xak-flow-redirect');
      assert.equal((await normal.b.get(slug)).body.component, 'ak-stage-access-denied');
      const admin = await logIn(FLOW, 'akadmin', ADMIN_PASSWORD);
      assert.equal(admin.done.body.component, 'xak-flow-redirect');
      const ok = await admin.b.get(slug);
      assert.equal(ok.body.component, 'ak-stage-dummy');
      assert.equal(ok.body.name, 'ref-p2-dummy');
    });

    it('P10: /flows/-/default/invalidation/ redirects to the invalidation flow', async () => {
      const r = await fetch(`${srv.url}/flows/-/default/invalidation/`, { redirect: 'manual' });
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), '/if/flow/default-invalidation-flow/');
    });

    it('P10: … also when the session holds a plan for another flow, which is dropped', async () => {
      const b = new Browser(srv.api);
      assert.equal((await b.get(FLOW)).body.component, 'ak-stage-identification');
      // (a plan is stored once it has moved: identify first)
      assert.equal(
        (await b.solve(FLOW, { component: 'ak-stage-identification', uidField: 'akadmin' })).body.component,
        'ak-stage-password',
      );
      assert.ok((await sessionRow(srv, b.session))?.data.plan, 'a plan for the authentication flow');
      const r = await fetch(`${srv.url}/flows/-/default/invalidation/`, { redirect: 'manual', headers: b.jar.headers() });
      b.jar.keep(r);
      assert.equal(r.status, 302);
      assert.equal(r.headers.get('location'), '/if/flow/default-invalidation-flow/');
      assert.equal((await sessionRow(srv, b.session))?.data.plan, undefined, 'the other flow’s plan is removed from the session');
    });

    it('I2: without webauthn_stage the identification challenge has passkey_challenge: null', async () => {
      const r = await new Browser(srv.api).get(FLOW);
      assert.equal(r.body.component, 'ak-stage-identification');
      assert.ok('passkey_challenge' in r.body, 'the key is sent');
      assert.equal(r.body.passkey_challenge, null);
    });

    it('I12: an e-mail-only stage (pretend_user_exists false) refuses the user’s username', async () => {
      await createUser(srv, 'ian', 'ian-password-1');
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'ref-i12',
        user_fields: ['email'],
        pretend_user_exists: false,
      });
      const slug = await flowOf(srv, 'ref-i12', [ident, stages.password, stages.login]);
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'ian' });
      assert.equal(r.body.component, 'ak-stage-identification');
      assert.deepEqual(r.body.response_errors, { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] });
      const byMail = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'ian@example.com' });
      assert.equal(byMail.body.component, 'ak-stage-password', 'the e-mail address is found');
    });

    it('V6: last_auth_threshold "milliseconds=0" never skips the validation', async () => {
      const validate = await createStage(srv, '/stages/authenticator/validate/', { name: 'ref-v6', last_auth_threshold: 'milliseconds=0' });
      const slug = await flowOf(srv, 'ref-v6', [stages.identification, stages.password, validate, stages.login]);
      const id = await createUser(srv, 'vic', 'vic-password-1');
      const { key } = await totpDevice(id);
      const first = await logIn(slug, 'vic', 'vic-password-1');
      assert.equal(first.done.body.component, 'ak-stage-authenticator-validate');
      const done = await first.b.solve(slug, { component: 'ak-stage-authenticator-validate', code: totpCode(key) });
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal(first.b.jar.cookies.get('authentik_mfa'), undefined, 'no MFA cookie for a zero threshold');
      // the same browser (every cookie but the session) logs in again: the validation is shown again
      const again = new Browser(srv.api);
      for (const [k, v] of first.b.jar.cookies) if (k !== 'authentik_session' && k !== 'authentik_csrf') again.jar.cookies.set(k, v);
      const second = await logIn(slug, 'vic', 'vic-password-1', again);
      assert.equal(second.done.body.component, 'ak-stage-authenticator-validate');
    });

    it('V18: a wrong e-mail code is refused with the token error', async () => {
      const emailStage = await createStage(srv, '/stages/authenticator/email/', {
        name: 'ref-v18-mail',
        host: '127.0.0.1',
        port: smtp.port,
        from_address: 'login@keystage.test',
        token_expiry: 'minutes=5',
        template: 'Your code is {{ code }}.',
      });
      const validate = await createStage(srv, '/stages/authenticator/validate/', { name: 'ref-v18', not_configured_action: 'deny' });
      const slug = await flowOf(srv, 'ref-v18', [stages.identification, stages.password, validate, stages.login]);
      const id = await createUser(srv, 'emma', 'emma-password-1');
      await srv.app.store.db
        .insertInto('email_devices')
        .values({
          user_id: id,
          name: 'mail',
          confirmed: 1,
          created: now(),
          last_updated: now(),
          last_used: null,
          throttling_failure_timestamp: null,
          throttling_failure_count: 0,
          stage: emailStage,
          token_hash: null,
          valid_until: null,
          email: 'xx@0.co',
        } as never)
        .execute();
      const { b, done: ch } = await logIn(slug, 'emma', 'emma-password-1');
      assert.equal(ch.body.component, 'ak-stage-authenticator-validate');
      const dc = ch.body.device_challenges[0];
      assert.deepEqual([dc.device_class, dc.challenge], ['email', { email: '**@*.co' }]);
      const sent = smtp.mails.length;
      await b.solve(slug, {
        component: 'ak-stage-authenticator-validate',
        selectedChallenge: { deviceClass: 'email', deviceUid: dc.device_uid, challenge: dc.challenge, lastUsed: null },
      });
      assert.equal(smtp.mails.length, sent + 1, 'selecting the device mailed a code');
      const code = smtp.lastCode('xx@0.co')!;
      const wrong = await b.solve(slug, { component: 'ak-stage-authenticator-validate', code: code === '000000' ? '111111' : '000000' });
      assert.equal(wrong.body.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(wrong.body.response_errors, { code: [{ code: 'invalid', string: INVALID_TOKEN }] });
      assert.equal((await b.me()).status, 403, 'not logged in');
    });

    it('V20: the login event after an MFA login records auth_method auth_mfa and the device used', async () => {
      const validate = await createStage(srv, '/stages/authenticator/validate/', { name: 'ref-v20', not_configured_action: 'deny' });
      const slug = await flowOf(srv, 'ref-v20', [stages.identification, validate, stages.login]);
      const id = await createUser(srv, 'duncan', 'duncan-password-1');
      const { key, device } = await totpDevice(id);
      const b = new Browser(srv.api);
      await b.get(slug);
      const ch = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'duncan' });
      assert.equal(ch.body.component, 'ak-stage-authenticator-validate');
      const done = await b.solve(slug, { component: 'ak-stage-authenticator-validate', code: totpCode(key) });
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      const events = await srv.app.store.db
        .selectFrom('events')
        .select('context')
        .where('action', '=', 'login')
        .where('username', '=', 'duncan')
        .execute();
      assert.equal(events.length, 1);
      const ctx = JSON.parse(events[0]!.context);
      assert.equal(ctx.auth_method, 'auth_mfa');
      assert.deepEqual(ctx.auth_method_args, {
        known_device: false,
        mfa_devices: [{ app: 'authentik_stages_authenticator_totp', model_name: 'totpdevice', name: 'phone', pk: device }],
      });
    });

    it('V22: the only WebAuthn device is of a type outside the allowed list, action deny ⇒ access denied', async () => {
      const validate = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'ref-v22',
        not_configured_action: 'deny',
        webauthn_allowed_device_types: [YUBIKEY_5],
      });
      const slug = await flowOf(srv, 'ref-v22', [stages.identification, stages.password, validate, stages.login]);
      const id = await createUser(srv, 'wanda', 'wanda-password-1');
      await srv.app.store.db
        .insertInto('webauthn_devices')
        .values({
          user_id: id,
          name: 'nfc key',
          confirmed: 1,
          created: now(),
          last_updated: now(),
          last_used: null,
          credential_id: 'ref-v22-credential',
          public_key: 'pQECAyYgASFY',
          sign_count: 0,
          rp_id: 'localhost',
          aaguid: YUBIKEY_5_NFC,
          transports: '[]',
        } as never)
        .execute();
      const { b, done } = await logIn(slug, 'wanda', 'wanda-password-1');
      assert.equal(done.status, 200);
      assert.equal(done.body.component, 'ak-stage-access-denied');
      assert.equal(done.body.error_message, 'No (allowed) MFA authenticator configured.');
      assert.equal(done.body.pending_user, 'wanda');
      assert.equal((await b.me()).status, 403);
      assert.equal((await sessionRow(srv, b.session))?.data.plan, undefined, 'the plan is gone');
    });

    it('L6: a user login stage with no pending user denies access ("Unknown error")', async () => {
      const slug = await flowOf(srv, 'ref-l6', [stages.login]);
      const got = await new Browser(srv.api).get(slug);
      assert.equal(got.status, 200);
      assert.equal(got.body.component, 'ak-stage-access-denied');
      assert.equal(got.body.error_message, 'Unknown error');
      const b = new Browser(srv.api);
      const posted = await b.solve(slug, { component: 'ak-stage-user-login', rememberMe: false });
      assert.equal(posted.body.component, 'ak-stage-access-denied');
      assert.equal(posted.body.error_message, 'Unknown error');
      assert.equal((await b.me()).status, 403);
    });
  });
}
