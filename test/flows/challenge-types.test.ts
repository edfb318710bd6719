/**
 * Every challenge component Keystage serves, driven through real flows, checked against authentik's schema.yml
 * definition of that component (through ChallengeTypes' discriminator mapping) and against the definition Keystage
 * itself serves at /api/v3/schema/; every response sent is checked the same way (FlowChallengeResponseRequest).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateTOTP } from '@oslojs/otp';
import { decodeBase32IgnorePadding } from '@oslojs/encoding';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { FakeCaptcha } from '../helpers/fake-captcha.js';
import { FakeDuo } from '../helpers/fake-duo.js';
import { SmsGateway, SmtpSink } from '../helpers/fake-providers.js';
import { assertMatches, authentikSchema, validatorOver, type OpenApiDoc } from '../helpers/openapi-schema.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';

const DUO_ID = 'DIXXXXXXXXXXXXXXXXXX';
const DUO_SECRET = 'duo-secret-key-0123456789';
const CLASSES = ['static', 'totp', 'webauthn', 'duo', 'sms', 'email'];
const totpCode = (url: string) => generateTOTP(decodeBase32IgnorePadding(new URL(url).searchParams.get('secret')!), 30, 6);
const mappingOf = (doc: OpenApiDoc, union: string) => doc.components.schemas[union].discriminator.mapping as Record<string, string>;
const componentName = (ref: string) => ref.split('/').at(-1)!;

/** every challenge component the tests below must see, with the variants that matter */
const EXPECTED = [
  'ak-stage-identification',
  'ak-stage-password',
  'ak-stage-captcha',
  'ak-stage-authenticator-validate',
  'ak-stage-authenticator-totp',
  'ak-stage-authenticator-static',
  'ak-stage-authenticator-webauthn',
  'ak-stage-authenticator-email',
  'ak-stage-authenticator-sms',
  'ak-stage-authenticator-duo',
  'ak-stage-user-login',
  'ak-stage-dummy',
  'ak-stage-consent',
  'ak-stage-prompt',
  'ak-stage-email',
  'ak-stage-access-denied',
  'ak-stage-flow-error',
  'xak-flow-redirect',
  // the OAuth2 provider's in-memory stages
  'ak-provider-oauth2-device-code',
  'ak-provider-oauth2-device-code-finish',
  'ak-provider-iframe-logout',
  // the SAML provider's
  'ak-provider-saml-native-logout',
  // the Telegram source's
  'ak-source-telegram',
];

for (const dialect of dialects()) {
  describe(`challenge types: served bodies match authentik's and Keystage's schemas (${dialect})`, () => {
    let srv: TestServer;
    let captchaProvider: FakeCaptcha;
    let duo: FakeDuo;
    let smtp: SmtpSink;
    let sms: SmsGateway;
    let served: OpenApiDoc;
    let keystage: (name: string, body: unknown) => void;
    const seen = new Map<string, number>();
    const sentResponses = new Set<string>();
    /** keys Keystage sends that authentik's component does not declare: `component.key` */
    const extraKeys = new Set<string>();
    const slugs: Record<string, string> = {};
    const setup: Record<string, string> = {};

    /** validates one served challenge against both documents; returns it */
    function checked<T extends Record<string, any>>(body: T): T {
      const component = body.component as string;
      const ak = mappingOf(authentikSchema(), 'ChallengeTypes')[component];
      assert.ok(ak, `authentik has no challenge component ${component}`);
      assertMatches(componentName(ak), body);
      const ks = mappingOf(served, 'ChallengeTypes')[component];
      assert.ok(ks, `Keystage's ChallengeTypes does not list ${component}`);
      assert.equal(ks, ak, 'the same component name as authentik');
      keystage(componentName(ks), body);
      keystage('ChallengeTypes', body);
      const props = authentikSchema().components.schemas[componentName(ak)].properties as Record<string, unknown>;
      for (const k of Object.keys(body)) if (!(k in props)) extraKeys.add(`${component}.${k}`);
      const own = served.components.schemas[componentName(ks)].properties as Record<string, unknown>;
      for (const k of Object.keys(body)) assert.ok(k in own, `Keystage's ${componentName(ks)} declares ${k}`);
      seen.set(component, (seen.get(component) ?? 0) + 1);
      return body;
    }

    /** a browser whose every answer and response is checked */
    class Checked extends BrowserSession {
      override async get(slug: string, query = '') {
        return checked(await super.get(slug, query));
      }
      override async solve(slug: string, response: Record<string, unknown>, query = '') {
        const component = response.component as string;
        const ak = mappingOf(authentikSchema(), 'FlowChallengeResponseRequest')[component];
        assert.ok(ak, `authentik has no response component ${component}`);
        assertMatches(componentName(ak), response);
        const ks = mappingOf(served, 'FlowChallengeResponseRequest')[component];
        assert.equal(ks, ak, `Keystage's FlowChallengeResponseRequest maps ${component} as authentik does`);
        // (not against the union itself: `component` is optional in responses, as in authentik's, so only the
        // discriminator — not JSON Schema's oneOf — picks the member)
        keystage(componentName(ks), response);
        sentResponses.add(component);
        return checked(await super.solve(slug, response, query));
      }
    }

    async function login(slug: string, user: string) {
      const b = new Checked(srv);
      const ident = await b.get(slug);
      assert.equal(ident.component, 'ak-stage-identification');
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: user });
      return { b, ch: await b.solve(slug, { component: 'ak-stage-password', password: `${user}-password-1` }) };
    }

    before(async () => {
      captchaProvider = await new FakeCaptcha().start();
      duo = await new FakeDuo(DUO_ID, DUO_SECRET).start();
      smtp = await new SmtpSink().start();
      sms = await new SmsGateway().start();
      srv = await startServer(dialect, { twilioApiUrl: sms.url, captchaTimeoutMs: 2000, externalUrl: new URL('https://keystage.test') });
      const doc = await call(srv, 'GET', '/schema/?format=json');
      assert.equal(doc.status, 200);
      served = doc.body;
      keystage = validatorOver(served, 'keystage');

      const s = await defaultStages(srv);
      const captchaArgs = {
        private_key: 'secret-key-1',
        api_url: captchaProvider.siteverify(),
        js_url: captchaProvider.script('turnstile'),
      };
      const captcha = await createStage(srv, '/stages/captcha/', { name: 'ct-captcha', public_key: 'site-key-1', ...captchaArgs });
      const embedCaptcha = await createStage(srv, '/stages/captcha/', {
        name: 'ct-captcha-embedded',
        public_key: 'site-key-2',
        ...captchaArgs,
      });
      const identWithCaptcha = await createStage(srv, '/stages/identification/', {
        name: 'ct-ident-captcha',
        user_fields: ['username'],
        captcha_stage: embedCaptcha,
        password_stage: s.password,
      });
      const rememberLogin = await createStage(srv, '/stages/user_login/', { name: 'ct-login-remember', remember_me_offset: 'days=30' });
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'ct-dummy' });
      const broken = await createStage(srv, '/stages/dummy/', { name: 'ct-dummy-broken', throw_error: true });
      const denyStage = await createStage(srv, '/stages/deny/', { name: 'ct-deny', deny_message: 'Not today.' });
      const logout = await createStage(srv, '/stages/user_logout/', { name: 'ct-logout' });
      const consent = await createStage(srv, '/stages/consent/', { name: 'ct-consent', mode: 'always_require' });
      setup.totp = await createStage(srv, '/stages/authenticator/totp/', { name: 'ct-totp', digits: 6 });
      setup.static = await createStage(srv, '/stages/authenticator/static/', { name: 'ct-static', token_count: 2, token_length: 8 });
      setup.webauthn = await createStage(srv, '/stages/authenticator/webauthn/', { name: 'ct-webauthn' });
      setup.email = await createStage(srv, '/stages/authenticator/email/', {
        name: 'ct-email',
        host: '127.0.0.1',
        port: smtp.port,
        from_address: 'login@keystage.test',
        token_expiry: 'minutes=5',
      });
      setup.sms = await createStage(srv, '/stages/authenticator/sms/', {
        name: 'ct-sms',
        provider: 'twilio',
        from_number: '+15550000000',
        account_sid: 'AC1',
        auth: 'twilio-token',
      });
      setup.duo = await createStage(srv, '/stages/authenticator/duo/', {
        name: 'ct-duo',
        client_id: DUO_ID,
        client_secret: DUO_SECRET,
        api_hostname: duo.url,
      });
      const all = Object.values(setup);
      const choose = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'ct-validate-choose',
        device_classes: CLASSES,
        not_configured_action: 'configure',
        configuration_stages: all,
      });
      const validate = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'ct-validate-all',
        device_classes: CLASSES,
        not_configured_action: 'deny',
      });

      slugs.main = await flowOf(srv, 'ct-main', [s.identification, captcha, s.password, dummy, rememberLogin]);
      slugs.embedded = await flowOf(srv, 'ct-embedded', [identWithCaptcha, s.login]);
      slugs.choose = await flowOf(srv, 'ct-choose', [s.identification, s.password, choose, s.login]);
      for (const [cls, stage] of Object.entries(setup))
        slugs[cls] = await flowOf(srv, `ct-enrol-${cls}`, [s.identification, s.password, stage]);
      slugs.validate = await flowOf(srv, 'ct-validate', [s.identification, s.password, validate, s.login]);
      slugs.deny = await flowOf(srv, 'ct-deny', [dummy, denyStage]);
      slugs.broken = await flowOf(srv, 'ct-broken', [broken]);
      slugs.logout = await flowOf(srv, 'ct-logout', [logout], { designation: 'invalidation' });
      slugs.consent = await flowOf(srv, 'ct-consent', [consent], { designation: 'authorization' });
      const mail = await createStage(srv, '/stages/email/', { name: 'ct-mail', host: '127.0.0.1', port: smtp.port });
      slugs.mail = await flowOf(srv, 'ct-mail', [s.identification, mail], { designation: 'recovery' });
    });
    after(async () => {
      await srv.close();
      await captchaProvider.close();
      await duo.close();
      await smtp.close();
      await sms.close();
    });

    it('serves ChallengeTypes and FlowChallengeResponseRequest as oneOf unions discriminated by component, named as authentik names them', () => {
      for (const union of ['ChallengeTypes', 'FlowChallengeResponseRequest']) {
        const ks = served.components.schemas[union];
        assert.equal(ks.discriminator.propertyName, 'component');
        const ak = mappingOf(authentikSchema(), union);
        for (const [component, ref] of Object.entries(ks.discriminator.mapping as Record<string, string>)) {
          assert.equal(ref, ak[component], `${union}: ${component}`);
          assert.ok(served.components.schemas[componentName(ref)], `${ref} is served`);
        }
        assert.deepEqual(
          ks.oneOf.map((o: { $ref: string }) => o.$ref).sort(),
          [...new Set(Object.values(ks.discriminator.mapping))].sort(),
        );
      }
      assert.deepEqual(
        Object.keys(mappingOf(served, 'ChallengeTypes')).sort(),
        [...EXPECTED].sort(),
        'exactly the components Keystage serves',
      );
    });

    it('identification, captcha, password (and an invalid one), dummy, user login with remember me, redirect', async () => {
      await createUser(srv, 'cto', 'cto-password-1');
      const b = new Checked(srv);
      await b.get(slugs.main);
      const cap = await b.solve(slugs.main, { component: 'ak-stage-identification', uid_field: 'cto' });
      assert.equal(cap.component, 'ak-stage-captcha');
      const bad = await b.solve(slugs.main, { component: 'ak-stage-captcha', token: 'fail' });
      assert.equal(bad.component, 'ak-stage-captcha');
      assert.ok(bad.response_errors?.token);
      const pw = await b.solve(slugs.main, { component: 'ak-stage-captcha', token: 'pass' });
      assert.equal(pw.component, 'ak-stage-password');
      const wrong = await b.solve(slugs.main, { component: 'ak-stage-password', password: 'nope' });
      assert.ok(wrong.response_errors?.password);
      const dummy = await b.solve(slugs.main, { component: 'ak-stage-password', password: 'cto-password-1' });
      assert.equal(dummy.component, 'ak-stage-dummy');
      const remember = await b.solve(slugs.main, { component: 'ak-stage-dummy' });
      assert.equal(remember.component, 'ak-stage-user-login');
      const done = await b.solve(slugs.main, { component: 'ak-stage-user-login', remember_me: true });
      assert.equal(done.component, 'xak-flow-redirect');
      assert.equal(done.final_redirect, true);
    });

    it('identification with an embedded captcha and password fields', async () => {
      const b = new Checked(srv);
      const ident = await b.get(slugs.embedded);
      assert.equal(ident.captcha_stage.component, 'ak-stage-captcha');
      assertMatches('CaptchaChallenge', ident.captcha_stage);
      assert.equal(ident.password_fields, true);
      const failed = await b.solve(slugs.embedded, {
        component: 'ak-stage-identification',
        uid_field: 'cto',
        password: 'wrong',
        captcha_token: 'pass',
      });
      assert.ok(failed.response_errors?.non_field_errors);
    });

    it('setup choice, then each setup stage; the validation challenge with a device of every class', async () => {
      await createUser(srv, 'ctc', 'ctc-password-1');
      const choice = await login(slugs.choose, 'ctc');
      assert.equal(choice.ch.component, 'ak-stage-authenticator-validate');
      assert.equal(choice.ch.configuration_stages.length, 6);
      assert.deepEqual(choice.ch.device_challenges, []);
      for (const st of choice.ch.configuration_stages) assertMatches('SelectableStage', st);
      const picked = await choice.b.solve(slugs.choose, { component: 'ak-stage-authenticator-validate', selected_stage: setup.static });
      assert.equal(picked.component, 'ak-stage-authenticator-static');

      const id = await createUser(srv, 'ctm', 'ctm-password-1', { email: 'ctm@example.com' });
      // TOTP: a wrong code, then the right one
      const totp = await login(slugs.totp, 'ctm');
      assert.equal(totp.ch.component, 'ak-stage-authenticator-totp');
      const code = totpCode(totp.ch.config_url);
      assert.ok(
        (await totp.b.solve(slugs.totp, { component: 'ak-stage-authenticator-totp', code: code === '000000' ? '111111' : '000000' }))
          .response_errors,
      );
      assert.equal((await totp.b.solve(slugs.totp, { component: 'ak-stage-authenticator-totp', code })).component, 'xak-flow-redirect');
      // recovery codes
      const stat = await login(slugs.static, 'ctm');
      assert.equal(stat.ch.component, 'ak-stage-authenticator-static');
      assert.equal((await stat.b.solve(slugs.static, { component: 'ak-stage-authenticator-static' })).component, 'xak-flow-redirect');
      // e-mail: the code goes to the user's address
      const mail = await login(slugs.email, 'ctm');
      assert.equal(mail.ch.component, 'ak-stage-authenticator-email');
      assert.equal(mail.ch.email_required, false);
      assert.equal(
        (await mail.b.solve(slugs.email, { component: 'ak-stage-authenticator-email', code: smtp.lastCode('ctm@example.com')! })).component,
        'xak-flow-redirect',
      );
      // SMS: a number first, then the code
      const phone = await login(slugs.sms, 'ctm');
      assert.equal(phone.ch.phone_number_required, true);
      const sent = await phone.b.solve(slugs.sms, { component: 'ak-stage-authenticator-sms', phone_number: '+15551234567' });
      assert.equal(sent.component, 'ak-stage-authenticator-sms');
      assert.equal(sent.phone_number_required, false);
      assert.equal(
        (await phone.b.solve(slugs.sms, { component: 'ak-stage-authenticator-sms', code: sms.lastCode('+15551234567')! })).component,
        'xak-flow-redirect',
      );
      // Duo: not active yet, then active
      const d = await login(slugs.duo, 'ctm');
      assert.equal(d.ch.component, 'ak-stage-authenticator-duo');
      assert.ok((await d.b.solve(slugs.duo, { component: 'ak-stage-authenticator-duo' })).response_errors);
      duo.activated.add(duo.calls.filter((c) => c.path === '/auth/v2/enroll_status').at(-1)!.params.user_id!);
      assert.equal((await d.b.solve(slugs.duo, { component: 'ak-stage-authenticator-duo' })).component, 'xak-flow-redirect');
      // WebAuthn: the registration options, and a response that does not verify
      const wa = await login(slugs.webauthn, 'ctm');
      assert.equal(wa.ch.component, 'ak-stage-authenticator-webauthn');
      assert.equal(typeof wa.ch.registration.challenge, 'string');
      const refused = await wa.b.solve(slugs.webauthn, {
        component: 'ak-stage-authenticator-webauthn',
        response: { id: 'x', rawId: 'x', type: 'public-key', response: {} },
      });
      assert.equal(refused.component, 'ak-stage-authenticator-webauthn');
      assert.ok(refused.response_errors?.response);
      const now = new Date().toISOString();
      await srv.app.store.db
        .insertInto('webauthn_devices')
        .values({
          user_id: id,
          name: 'key',
          confirmed: 1,
          created: now,
          last_updated: now,
          last_used: null,
          credential_id: 'QKZ97ASJAOIDyipAs6mKUxDUZgDrWrbAsUb5leL7-oU',
          public_key: 'pQECAyYgASFYIGsBLkklToCQkT7qJT_bJYN1sEc1oJdbnmoOc43i0JH6IlggLTXytuhzFVYYAK4PQNj8_coGrbbzSfUxdiPAcZTQCyU',
          sign_count: 0,
          rp_id: '127.0.0.1',
          aaguid: '00000000-0000-0000-0000-000000000000',
          transports: '[]',
        } as never)
        .execute();

      const v = await login(slugs.validate, 'ctm');
      assert.equal(v.ch.component, 'ak-stage-authenticator-validate');
      assert.deepEqual(
        v.ch.device_challenges.map((c: { device_class: string }) => c.device_class).sort(),
        [...CLASSES].sort(),
        'one challenge per class',
      );
      for (const c of v.ch.device_challenges) assertMatches('DeviceChallenge', c);
      const wrong = await v.b.solve(slugs.validate, { component: 'ak-stage-authenticator-validate', code: '000000' });
      assert.equal(wrong.component, 'ak-stage-authenticator-validate');
      assert.ok(wrong.response_errors);
      // the official client's model wants last_used as a Date (or null); the stage matches class and uid
      const sel = v.ch.device_challenges.find((c: { device_class: string }) => c.device_class === 'email');
      const selected = await v.b.solve(slugs.validate, {
        component: 'ak-stage-authenticator-validate',
        selected_challenge: { ...sel, last_used: null },
      });
      assert.equal(selected.component, 'ak-stage-authenticator-validate');
    });

    it('a prompt with every field type (choices as PromptChoice objects), an invalid response, then the default sign-up', async () => {
      const types = [
        'text',
        'text_area',
        'text_read_only',
        'text_area_read_only',
        'email',
        'number',
        'checkbox',
        'radio-button-group',
        'dropdown',
        'date',
        'date-time',
        'file',
        'separator',
        'hidden',
        'static',
        'alert_info',
        'alert_warning',
        'alert_danger',
        'ak-locale',
      ];
      const fields: string[] = [];
      for (const [i, type] of types.entries()) {
        const p = await call(srv, 'POST', '/stages/prompt/prompts/', {
          name: `ct-prompt-${type}`,
          field_key: `f_${i}`,
          label: type,
          type,
          required: false,
          placeholder: type === 'dropdown' ? 'return [{"value": "a", "label": "A"}, "b"]' : type === 'radio-button-group' ? 'one' : '',
          placeholder_expression: type === 'dropdown',
          order: i,
        });
        assert.equal(p.status, 201, JSON.stringify(p.body));
        fields.push(p.body.pk);
      }
      const stage = await createStage(srv, '/stages/prompt/stages/', { name: 'ct-prompt', fields });
      const slug = await flowOf(srv, 'ct-prompt', [stage]);
      const b = new Checked(srv);
      const ch = await b.get(slug);
      assert.equal(ch.component, 'ak-stage-prompt');
      assert.equal(ch.fields.length, types.length);
      for (const f of ch.fields) assertMatches('StagePrompt', f);
      assert.deepEqual(ch.fields.find((f: { type: string }) => f.type === 'dropdown').choices, [
        { value: 'a', label: 'A' },
        { value: 'b', label: 'b' },
      ]);
      const bad = await b.solve(slug, { component: 'ak-stage-prompt', f_5: 'not a number' });
      assert.equal(bad.component, 'ak-stage-prompt');
      assert.deepEqual(bad.response_errors, { f_5: [{ string: 'A valid integer is required.', code: 'invalid' }] });
      const done = await b.solve(slug, { component: 'ak-stage-prompt', f_5: 3, f_6: true });
      assert.equal(done.component, 'xak-flow-redirect');

      const up = new Checked(srv);
      assert.equal((await up.get('default-enrollment-flow')).component, 'ak-stage-prompt');
      const signed = await up.solve('default-enrollment-flow', {
        component: 'ak-stage-prompt',
        username: 'ct-newcomer',
        name: 'CT',
        email: 'ct@example.com',
        password: 'ct-password-long',
        password_repeat: 'ct-password-long',
      });
      assert.equal(signed.component, 'xak-flow-redirect');
    });

    it('access denied, flow error, and a logout flow that ends in a redirect', async () => {
      const b = new Checked(srv);
      await b.get(slugs.deny);
      const denied = await b.solve(slugs.deny, { component: 'ak-stage-dummy' });
      assert.equal(denied.component, 'ak-stage-access-denied');
      assert.equal(denied.error_message, 'Not today.');
      const err = await new Checked(srv).get(slugs.broken);
      assert.equal(err.component, 'ak-stage-flow-error');
      const out = await new Checked(srv).get(slugs.logout);
      assert.equal(out.component, 'xak-flow-redirect');
    });

    it('e-mail: sent, re-sent, and the link confirmed', async () => {
      await createUser(srv, 'ctl', 'ctl-password-1', { email: 'ctl@example.com' });
      const b = new Checked(srv);
      await b.get(slugs.mail);
      const sent = await b.solve(slugs.mail, { component: 'ak-stage-identification', uid_field: 'ctl' });
      assert.equal(sent.component, 'ak-stage-email');
      const again = await b.solve(slugs.mail, { component: 'ak-stage-email' });
      assert.deepEqual(again.response_errors, { non_field_errors: [{ string: 'email-sent', code: 'email-sent' }] });
      const until = Date.now() + 5000;
      while (!smtp.mails.some((m) => m.to.includes('ctl@example.com')) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const raw = smtp.mails
        .find((m) => m.to.includes('ctl@example.com'))!
        .raw.replace(/=\r?\n/g, '')
        .replace(/=3D/g, '=');
      const token = /flow_token=([\w-]+)/.exec(raw)![1]!;
      const c = new Checked(srv);
      const confirm = await c.get(slugs.mail, `flow_token=${token}`);
      assert.equal(confirm.component, 'ak-stage-consent');
      const done = await c.solve(slugs.mail, { component: 'ak-stage-consent', token: confirm.token }, `flow_token=${token}`);
      assert.equal(done.component, 'xak-flow-redirect');
    });

    it('consent: the challenge, and a response with its token', async () => {
      const b = new Checked(srv);
      const c = await b.get(slugs.consent);
      assert.equal(c.component, 'ak-stage-consent');
      assert.deepEqual([c.permissions, c.additional_permissions], [[], []]);
      const done = await b.solve(slugs.consent, { component: 'ak-stage-consent', token: c.token });
      assert.equal(done.component, 'xak-flow-redirect');
    });

    it('saw every component; the keys Keystage sends beyond authentik’s definitions', () => {
      // the OAuth2 provider's in-memory stages are walked, and their bodies checked against authentik's schema, by
      // test/providers/oauth2/device.test.ts and authorize-hints.test.ts; the SAML provider's native logout by
      // test/providers/saml/slo.test.ts; the Telegram source's by test/sources/telegram.test.ts
      const walked = EXPECTED.filter((c) => !c.startsWith('ak-provider-') && !c.startsWith('ak-source-'));
      assert.deepEqual([...seen.keys()].sort(), walked.sort());
      assert.deepEqual([...extraKeys].sort(), []);
      assert.ok(sentResponses.size >= 10);
    });
  });
}
