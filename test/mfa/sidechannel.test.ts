/**
 * E-mail and SMS as second factors: enrolment during login and use afterwards, against an SMTP sink, a Twilio
 * Messages API and a generic webhook on 127.0.0.1. Codes are six digits, single use, expiring, bound to the login
 * attempt, and throttled per class.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../helpers/server.js';
import { BrowserSession } from '../helpers/official-client.js';
import { SmsGateway, SmtpSink } from '../helpers/fake-providers.js';
import { createStage, createUser, defaultStages, flowOf } from '../helpers/flows.js';
import { failUpdatesOf } from '../helpers/faults.js';

for (const dialect of dialects()) {
  describe(`executor: e-mail and SMS codes (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    let sms: SmsGateway;
    let emailFlow: string;
    let twilioFlow: string;
    let webhookFlow: string;
    let verifyOnlyFlow: string;
    let emailStage: string;
    before(async () => {
      smtp = await new SmtpSink().start();
      sms = await new SmsGateway().start();
      srv = await startServer(dialect, { twilioApiUrl: sms.url });
      const s = await defaultStages(srv);
      emailStage = await createStage(srv, '/stages/authenticator/email/', {
        name: 'code-by-mail',
        host: '127.0.0.1',
        port: smtp.port,
        from_address: 'login@keystage.test',
        subject: 'Your code {{ code }}',
        token_expiry: 'minutes=5',
        template: 'Hello {{ user }}, your sign-in code is {{ code }} (valid {{ expires }}).',
        password: 'smtp-secret',
      });
      const twilio = await createStage(srv, '/stages/authenticator/sms/', {
        name: 'sms-twilio',
        provider: 'twilio',
        from_number: '+15550000000',
        account_sid: 'AC123',
        auth: 'twilio-token',
      });
      const webhook = await createStage(srv, '/stages/authenticator/sms/', {
        name: 'sms-webhook',
        provider: 'generic',
        from_number: 'Keystage',
        account_sid: `${sms.url}/hook`,
        auth: 'hook-token',
        auth_type: 'bearer',
      });
      const verifyOnly = await createStage(srv, '/stages/authenticator/sms/', {
        name: 'sms-verify-only',
        provider: 'twilio',
        from_number: '+15550000000',
        account_sid: 'AC123',
        auth: 'twilio-token',
        verify_only: true,
      });
      const mk = async (name: string, setup: string, extra: Record<string, unknown> = {}) => {
        const v = await createStage(srv, '/stages/authenticator/validate/', {
          name: `${name}-validate`,
          not_configured_action: 'configure',
          configuration_stages: [setup],
          ...extra,
        });
        return flowOf(srv, name, [s.identification, s.password, v, s.login]);
      };
      emailFlow = await mk('mfa-email', emailStage);
      twilioFlow = await mk('mfa-twilio', twilio);
      webhookFlow = await mk('mfa-webhook', webhook);
      verifyOnlyFlow = await mk('mfa-verify-only', verifyOnly);
    });
    after(async () => {
      await srv.close();
      await smtp.close();
      await sms.close();
    });

    async function toMfa(slug: string, user: string) {
      const b = new BrowserSession(srv);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: user });
      return { b, ch: await b.solve(slug, { component: 'ak-stage-password', password: `${user}-password-1` }) };
    }

    it('stage APIs never return the SMTP password or SMS credentials', async () => {
      const mail = await call(srv, 'GET', `/stages/authenticator/email/${emailStage}/`);
      assert.equal(mail.status, 200);
      assert.equal('password' in mail.body, false);
      const list = await call(srv, 'GET', '/stages/authenticator/sms/');
      for (const st of list.body.results) {
        assert.equal('auth' in st, false);
        assert.equal('auth_password' in st, false);
      }
    });

    it('e-mail: enrolment mails a code to the user; it confirms the device; the next login mails a new code', async () => {
      await createUser(srv, 'eve-mail', 'eve-mail-password-1');
      const { b, ch } = await toMfa(emailFlow, 'eve-mail');
      assert.equal(ch.component, 'ak-stage-authenticator-email');
      assert.equal(ch.email, 'e*******@e******.com');
      const mail = smtp.mails.at(-1)!;
      assert.deepEqual(mail.to, ['eve-mail@example.com']);
      assert.equal(mail.from, 'login@keystage.test');
      const code = smtp.lastCode('eve-mail@example.com')!;
      assert.match(code, /^\d{6}$/);
      assert.match(mail.raw, new RegExp(`Subject: Your code ${code}`));
      assert.match(mail.raw.replace(/=\r?\n/g, ''), /Hello eve-mail, your sign-in code is \d{6}/);
      const stored = await srv.app.store.db
        .selectFrom('mfa_codes')
        .select(['token_hash', 'attempt'])
        .where('device_table', '=', 'email_devices')
        .executeTakeFirstOrThrow();
      assert.match(stored.token_hash, /^[0-9a-f]{64}$/, 'stored hashed');
      assert.equal(
        (await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', code: '000000' === code ? '111111' : '000000' })).component,
        'ak-stage-authenticator-email',
      );
      await new Promise((r) => setTimeout(r, 1100)); // the failure throttles the device for a second
      assert.equal((await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', code })).component, 'xak-flow-redirect');
      const audit = await call(srv, 'GET', '/events/events/?action=model_created&username=eve-mail');
      assert.deepEqual(
        audit.body.results.map((e: { context: { model: { model_name: string; name: string } } }) => [
          e.context.model.model_name,
          e.context.model.name,
        ]),
        [['emaildevice', 'Email Device']],
      );

      const next = await toMfa(emailFlow, 'eve-mail');
      assert.equal(next.ch.component, 'ak-stage-authenticator-validate');
      const { last_used: _lu, ...challenge } = next.ch.device_challenges[0];
      assert.deepEqual(challenge.challenge, { email: 'e*******@e******.com' });
      const before = smtp.mails.length;
      const sel = await next.b.solve(emailFlow, { component: 'ak-stage-authenticator-validate', selected_challenge: challenge });
      assert.deepEqual(sel.response_errors, { non_field_errors: [{ string: 'Empty response', code: 'invalid' }] });
      assert.equal(smtp.mails.length, before + 1, 'selecting the device sent a code');
      const loginCode = smtp.lastCode('eve-mail@example.com')!;
      // a code is bound to its login attempt: another browser cannot use it
      const other = await toMfa(emailFlow, 'eve-mail');
      assert.equal(
        (await other.b.solve(emailFlow, { component: 'ak-stage-authenticator-validate', code: loginCode })).component,
        'ak-stage-authenticator-validate',
      );
      await new Promise((r) => setTimeout(r, 1100));
      assert.equal(
        (await next.b.solve(emailFlow, { component: 'ak-stage-authenticator-validate', code: loginCode })).component,
        'xak-flow-redirect',
      );
      // and it works once
      await new Promise((r) => setTimeout(r, 10));
      const again = await toMfa(emailFlow, 'eve-mail');
      assert.equal(
        (await again.b.solve(emailFlow, { component: 'ak-stage-authenticator-validate', code: loginCode })).component,
        'ak-stage-authenticator-validate',
      );
    });

    it('e-mail and SMS: the code is used up and the device confirmed together; a failure between them leaves the code usable', async () => {
      for (const [kind, flow, table] of [
        ['mail', emailFlow, 'email_devices'],
        ['sms', twilioFlow, 'sms_devices'],
      ] as const) {
        const name = `ivy-${kind}`;
        const userId = await createUser(srv, name, `${name}-password-1`);
        const { b, ch } = await toMfa(flow, name);
        const component = kind === 'mail' ? 'ak-stage-authenticator-email' : 'ak-stage-authenticator-sms';
        assert.equal(ch.component, component);
        if (kind === 'sms') assert.equal((await b.solve(flow, { component, phone_number: '+15557654321' })).component, component);
        const code = kind === 'mail' ? smtp.lastCode(`${name}@example.com`)! : sms.lastCode('+15557654321')!;
        assert.match(code, /^\d{6}$/);
        const heal = await failUpdatesOf(srv, dialect, table, 'confirmed', `OLD.user_id = ${userId}`);
        try {
          const failed = await b.solve(flow, { component, code }).catch((e: unknown) => ({ error: e }));
          assert.notEqual((failed as { component?: string }).component, 'xak-flow-redirect', kind);
        } finally {
          await heal();
        }
        const db = srv.app.store.db;
        const device = await db.selectFrom(table).select(['id', 'confirmed']).where('user_id', '=', userId).executeTakeFirstOrThrow();
        assert.equal(Number(device.confirmed), 0, kind);
        const codes = await db
          .selectFrom('mfa_codes')
          .select('attempt')
          .where('device_table', '=', table)
          .where('device_id', '=', device.id)
          .execute();
        assert.equal(codes.length, 1, `${kind}: the code is still there`);
        // the same code, again: the device is confirmed
        assert.equal((await b.solve(flow, { component, code })).component, 'xak-flow-redirect', kind);
        const after = await db.selectFrom(table).select('confirmed').where('id', '=', device.id).executeTakeFirstOrThrow();
        assert.equal(Number(after.confirmed), 1, kind);
      }
    });

    it('e-mail: a code that cannot be sent leaves no unconfirmed device behind', async () => {
      const s = await defaultStages(srv);
      const down = await createStage(srv, '/stages/authenticator/email/', {
        name: 'code-by-mail-down',
        host: '127.0.0.1',
        port: 9,
        from_address: 'login@keystage.test',
        timeout: 2,
      });
      const v = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'mfa-email-down-validate',
        not_configured_action: 'configure',
        configuration_stages: [down],
      });
      const flow = await flowOf(srv, 'mfa-email-down', [s.identification, s.password, v, s.login]);
      const userId = await createUser(srv, 'jo-mail', 'jo-mail-password-1');
      const devices = async () =>
        (await srv.app.store.db.selectFrom('email_devices').select('id').where('user_id', '=', userId).execute()).length;
      for (let attempt = 0; attempt < 2; attempt++) {
        // (the person has an address: the stage starts the device and sends at once, which fails here)
        const { ch } = await toMfa(flow, 'jo-mail');
        assert.equal(ch.component, 'ak-stage-flow-error', JSON.stringify(ch));
        assert.equal(await devices(), 0, `attempt ${attempt + 1}: no device left by the failed send`);
      }
      // SMS through a gateway that cannot be reached: the same
      const smsDown = await createStage(srv, '/stages/authenticator/sms/', {
        name: 'sms-down',
        provider: 'generic',
        from_number: 'Keystage',
        account_sid: 'http://127.0.0.1:9/hook',
        auth: 'hook-token',
        auth_type: 'bearer',
      });
      const smsValidate = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'mfa-sms-down-validate',
        not_configured_action: 'configure',
        configuration_stages: [smsDown],
      });
      const smsFlow = await flowOf(srv, 'mfa-sms-down', [s.identification, s.password, smsValidate, s.login]);
      const smsUser = await createUser(srv, 'jo-sms', 'jo-sms-password-1');
      const phones = async () =>
        (await srv.app.store.db.selectFrom('sms_devices').select('id').where('user_id', '=', smsUser).execute()).length;
      for (let attempt = 0; attempt < 2; attempt++) {
        const { b, ch } = await toMfa(smsFlow, 'jo-sms');
        assert.equal(ch.component, 'ak-stage-authenticator-sms', JSON.stringify(ch));
        const sent = await b
          .solve(smsFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550199' })
          .catch((e: unknown) => ({ error: e }));
        assert.notEqual((sent as { component?: string }).component, 'ak-stage-authenticator-sms');
        assert.equal(await phones(), 0, `SMS attempt ${attempt + 1}: no device left by the failed send`);
      }
    });

    it('e-mail: an address enrolled on the stage already is refused and asked for again; a new address replaces the one a code went to', async () => {
      // eve-mail (the first test) enrolled eve-mail@example.com on this stage; iris has that address too
      await createUser(srv, 'iris', 'iris-password-1', { email: 'eve-mail@example.com' });
      const sent = smtp.mails.length;
      const { b, ch } = await toMfa(emailFlow, 'iris');
      assert.equal(ch.component, 'ak-stage-authenticator-email');
      assert.equal(ch.email_required, true, 'the enrolled address is dropped: the person is asked for one');
      assert.equal(smtp.mails.length, sent, 'nothing sent to it');
      const again = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', email: 'eve-mail@example.com' });
      assert.deepEqual(again.response_errors, { non_field_errors: [{ string: 'Invalid email', code: 'invalid' }] });
      const first = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', email: 'iris.old@example.org' });
      assert.equal(first.email_required, false);
      // the code field sent empty: that field is missing; neither code nor address: authentik's non-field error
      const blank = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', code: '' });
      assert.deepEqual(blank.response_errors, { code: [{ string: 'This field is required.', code: 'required' }] });
      const neither = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email' });
      assert.deepEqual(neither.response_errors, { non_field_errors: [{ string: 'email required', code: 'invalid' }] });
      const oldCode = smtp.lastCode('iris.old@example.org')!;
      // a new address: a new code there; the first address's code no longer counts
      const second = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', email: 'iris@example.org' });
      assert.equal(second.email, 'i***@e******.org');
      const newCode = smtp.lastCode('iris@example.org')!;
      if (oldCode !== newCode) {
        const stale = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', code: oldCode });
        assert.deepEqual(stale.response_errors, { non_field_errors: [{ string: 'Code does not match', code: 'invalid' }] });
        await new Promise((r) => setTimeout(r, 1100)); // the failure throttles the device for a second
      }
      const done = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', code: newCode });
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
      const devices = await srv.app.store.db
        .selectFrom('email_devices')
        .innerJoin('users', 'users.id', 'email_devices.user_id')
        .select(['email_devices.email', 'email_devices.confirmed'])
        .where('users.username', '=', 'iris')
        .execute();
      assert.deepEqual(devices, [{ email: 'iris@example.org', confirmed: 1 }]);
    });

    it('e-mail and SMS: two logins confirming the same address on a stage at once enrol it once', async () => {
      const twilio = (await call(srv, 'GET', '/stages/authenticator/sms/?name=sms-twilio')).body.results[0].pk;
      const cases = [
        { flow: emailFlow, component: 'ak-stage-authenticator-email', field: 'email', address: 'shared@example.net' },
        { flow: twilioFlow, component: 'ak-stage-authenticator-sms', field: 'phone_number', address: '+15550123' },
      ];
      for (const [i, k] of cases.entries()) {
        const pending = [];
        for (const name of [`race${i}a`, `race${i}b`]) {
          await createUser(srv, name, `${name}-password-1`, { email: '' });
          const { b } = await toMfa(k.flow, name);
          const sent = await b.solve(k.flow, { component: k.component, [k.field]: k.address });
          assert.equal(sent.response_errors, undefined, JSON.stringify(sent));
          const code = k.field === 'email' ? smtp.lastCode(k.address) : sms.lastCode(k.address);
          pending.push({ b, code: code! });
        }
        const answers = await Promise.all(pending.map((p) => p.b.solve(k.flow, { component: k.component, code: p.code })));
        const done = answers.filter((a) => a.component === 'xak-flow-redirect');
        const refused = answers.filter((a) => a.component === k.component);
        assert.equal(done.length, 1, JSON.stringify(answers));
        assert.deepEqual(refused[0].response_errors, {
          non_field_errors: [{ string: k.field === 'email' ? 'Invalid email' : 'Invalid phone number', code: 'invalid' }],
        });
        const table = k.field === 'email' ? 'email_devices' : 'sms_devices';
        const stage = k.field === 'email' ? emailStage : twilio;
        const confirmed = await srv.app.store.db
          .selectFrom(table)
          .select('id')
          .where('stage', '=', stage)
          .where(k.field as 'email', '=', k.address)
          .where('confirmed', '=', 1)
          .execute();
        assert.equal(confirmed.length, 1, `${k.address} enrolled once on the stage`);
      }
    });

    it('e-mail and SMS: an address or number a prompt stage collected is used without asking', async () => {
      const s = await defaultStages(srv);
      const field = async (key: string) =>
        (await call(srv, 'POST', '/stages/prompt/prompts/', { name: `sc-${key}`, field_key: key, label: key, type: 'text' })).body.pk;
      const prompt = await createStage(srv, '/stages/prompt/stages/', {
        name: 'sc-prompt',
        fields: [await field('email'), await field('phone')],
      });
      const twilio = (await call(srv, 'GET', '/stages/authenticator/sms/?name=sms-twilio')).body.results[0].pk;
      const slug = await flowOf(srv, 'mfa-prompted', [s.identification, s.password, prompt, emailStage, twilio, s.login]);
      await createUser(srv, 'pia', 'pia-password-1', { email: '' });
      const b = new BrowserSession(srv);
      await b.get(slug);
      await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'pia' });
      await b.solve(slug, { component: 'ak-stage-password', password: 'pia-password-1' });
      const mailStep = await b.solve(slug, { component: 'ak-stage-prompt', email: 'pia@example.org', phone: '+1 555 0142' });
      assert.equal(mailStep.component, 'ak-stage-authenticator-email');
      assert.equal(mailStep.email_required, false);
      const smsStep = await b.solve(slug, { component: 'ak-stage-authenticator-email', code: smtp.lastCode('pia@example.org')! });
      assert.equal(smsStep.component, 'ak-stage-authenticator-sms');
      assert.equal(smsStep.phone_number_required, false);
      const done = await b.solve(slug, { component: 'ak-stage-authenticator-sms', code: sms.lastCode('+15550142')! });
      assert.equal(done.component, 'xak-flow-redirect', JSON.stringify(done));
    });

    it('e-mail: an expired code is refused', async () => {
      await call(srv, 'PATCH', `/stages/authenticator/email/${emailStage}/`, { token_expiry: 'seconds=1' });
      try {
        await createUser(srv, 'exp-mail', 'exp-mail-password-1');
        const { b } = await toMfa(emailFlow, 'exp-mail');
        const code = smtp.lastCode('exp-mail@example.com')!;
        await new Promise((r) => setTimeout(r, 1300));
        const r = await b.solve(emailFlow, { component: 'ak-stage-authenticator-email', code });
        assert.deepEqual(r.response_errors, { non_field_errors: [{ string: 'Code does not match', code: 'invalid' }] });
      } finally {
        await call(srv, 'PATCH', `/stages/authenticator/email/${emailStage}/`, { token_expiry: 'minutes=5' });
      }
    });

    it('SMS through Twilio: phone number, code by text, login with a new code', async () => {
      await createUser(srv, 'sam-sms', 'sam-sms-password-1');
      const { b, ch } = await toMfa(twilioFlow, 'sam-sms');
      assert.deepEqual(
        { component: ch.component, phone_number_required: ch.phone_number_required },
        { component: 'ak-stage-authenticator-sms', phone_number_required: true },
      );
      const sent = await b.solve(twilioFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+1 555 0100' });
      assert.equal(sent.phone_number_required, false);
      const msg = sms.messages.at(-1)!;
      assert.equal(msg.provider, 'twilio');
      assert.equal(msg.path, '/2010-04-01/Accounts/AC123/Messages.json');
      assert.equal(msg.authorization, `Basic ${Buffer.from('AC123:twilio-token').toString('base64')}`);
      assert.deepEqual([msg.to, msg.from], ['+15550100', '+15550000000']);
      assert.match(msg.body, /\b\d{6}\b/);
      assert.equal(
        (await b.solve(twilioFlow, { component: 'ak-stage-authenticator-sms', code: sms.lastCode('+15550100')! })).component,
        'xak-flow-redirect',
      );
      const next = await toMfa(twilioFlow, 'sam-sms');
      const { last_used: _lu, ...challenge } = next.ch.device_challenges.find((d: { device_class: string }) => d.device_class === 'sms');
      await next.b.solve(twilioFlow, { component: 'ak-stage-authenticator-validate', selected_challenge: challenge });
      assert.equal(
        (await next.b.solve(twilioFlow, { component: 'ak-stage-authenticator-validate', code: sms.lastCode('+15550100')! })).component,
        'xak-flow-redirect',
      );
    });

    it('SMS at login: a send the provider refuses shows the stage again with its words on the choice, and is recorded', async () => {
      await createUser(srv, 'vera-sms', 'vera-sms-password-1');
      const { b } = await toMfa(twilioFlow, 'vera-sms');
      await b.solve(twilioFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550120' });
      const enrolled = await b.solve(twilioFlow, { component: 'ak-stage-authenticator-sms', code: sms.lastCode('+15550120')! });
      assert.equal(enrolled.component, 'xak-flow-redirect');
      sms.unreachable.add('+15550120');
      try {
        const next = await toMfa(twilioFlow, 'vera-sms');
        const { last_used: _lu, ...challenge } = next.ch.device_challenges.find((d: { device_class: string }) => d.device_class === 'sms');
        const refused = await next.b.solve(twilioFlow, { component: 'ak-stage-authenticator-validate', selected_challenge: challenge });
        assert.equal(refused.component, 'ak-stage-authenticator-validate', JSON.stringify(refused));
        assert.deepEqual(refused.response_errors, {
          selected_challenge: [{ string: "Invalid 'To' Phone Number: +15550120", code: 'invalid' }],
        });
        const events = await call(srv, 'GET', '/events/events/?action=configuration_error&ordering=-created');
        assert.match(events.body.results[0].context.message, /^Error sending SMS: Invalid 'To' Phone Number/);
        sms.unreachable.delete('+15550120');
        // the person may choose again once the provider sends
        await next.b.solve(twilioFlow, { component: 'ak-stage-authenticator-validate', selected_challenge: challenge });
        const done = await next.b.solve(twilioFlow, { component: 'ak-stage-authenticator-validate', code: sms.lastCode('+15550120')! });
        assert.equal(done.component, 'xak-flow-redirect');
      } finally {
        sms.unreachable.delete('+15550120');
      }
    });

    it("SMS: a number the provider refuses is said so on the stage (Twilio's message, the webhook's answer); another number then works", async () => {
      sms.unreachable.add('+15550111');
      sms.unreachable.add('+15550112');
      await createUser(srv, 'ursula', 'ursula-password-1');
      const { b } = await toMfa(twilioFlow, 'ursula');
      const refused = await b.solve(twilioFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550111' });
      assert.equal(refused.component, 'ak-stage-authenticator-sms');
      assert.equal(refused.phone_number_required, true);
      assert.deepEqual(refused.response_errors, {
        non_field_errors: [{ string: "Invalid 'To' Phone Number: +15550111", code: 'invalid' }],
      });
      const ok = await b.solve(twilioFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550113' });
      assert.equal(ok.phone_number_required, false);
      assert.equal(
        (await b.solve(twilioFlow, { component: 'ak-stage-authenticator-sms', code: sms.lastCode('+15550113')! })).component,
        'xak-flow-redirect',
      );
      await createUser(srv, 'ulrich', 'ulrich-password-1');
      const w = await toMfa(webhookFlow, 'ulrich');
      const hook = await w.b.solve(webhookFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550112' });
      assert.deepEqual(hook.response_errors, { non_field_errors: [{ string: 'unknown recipient', code: 'invalid' }] });
      // an error page is no message for a person: the status only
      sms.errorPage.add('+15550114');
      const page = await w.b.solve(webhookFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550114' });
      assert.deepEqual(page.response_errors, { non_field_errors: [{ string: 'SMS provider answered HTTP 502', code: 'invalid' }] });
      const left = await srv.app.store.db
        .selectFrom('sms_devices')
        .innerJoin('users', 'users.id', 'sms_devices.user_id')
        .select('phone_number')
        .where('users.username', '=', 'ulrich')
        .execute();
      assert.deepEqual(left, [], 'no device left behind');
    });

    it('SMS through a generic webhook with a bearer token', async () => {
      await createUser(srv, 'wendy', 'wendy-password-1');
      const { b } = await toMfa(webhookFlow, 'wendy');
      await b.solve(webhookFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+44 20 7946 0000' });
      const msg = sms.messages.at(-1)!;
      assert.deepEqual(
        [msg.provider, msg.path, msg.authorization, msg.from, msg.to],
        ['generic', '/hook', 'Bearer hook-token', 'Keystage', '+442079460000'],
      );
      assert.equal(
        (await b.solve(webhookFlow, { component: 'ak-stage-authenticator-sms', code: sms.lastCode('+442079460000')! })).component,
        'xak-flow-redirect',
      );
    });

    it('SMS verify_only: the number proves possession once, is kept hashed, and is never offered for login', async () => {
      const id = await createUser(srv, 'vera', 'vera-password-1');
      const { b } = await toMfa(verifyOnlyFlow, 'vera');
      await b.solve(verifyOnlyFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550199' });
      assert.equal(
        (await b.solve(verifyOnlyFlow, { component: 'ak-stage-authenticator-sms', code: sms.lastCode('+15550199')! })).component,
        'xak-flow-redirect',
      );
      const row = await srv.app.store.db
        .selectFrom('sms_devices')
        .select('phone_number')
        .where('user_id', '=', id)
        .executeTakeFirstOrThrow();
      assert.match(row.phone_number, /^hash:[0-9a-f]{64}$/);
      const next = await toMfa(verifyOnlyFlow, 'vera');
      assert.equal(next.ch.component, 'ak-stage-authenticator-sms', 'not usable: enrolment is offered again');
      // the same number cannot be enrolled again on this stage, by vera or anyone else; no SMS is sent for it
      const sent = sms.messages.length;
      const again = await next.b.solve(verifyOnlyFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+1 555 0199' });
      assert.deepEqual(again.response_errors, { non_field_errors: [{ string: 'Invalid phone number', code: 'invalid' }] });
      await createUser(srv, 'vito', 'vito-password-1');
      const other = await toMfa(verifyOnlyFlow, 'vito');
      const taken = await other.b.solve(verifyOnlyFlow, { component: 'ak-stage-authenticator-sms', phone_number: '+15550199' });
      assert.deepEqual(taken.response_errors, { non_field_errors: [{ string: 'Invalid phone number', code: 'invalid' }] });
      assert.equal(sms.messages.length, sent);
    });
  });

  describe(`executor: e-mail and SMS send limits (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    let sms: SmsGateway;
    let emailStage: string;
    let smsStage: string;
    let flow: string;
    const LIMIT = { device: 4, attempt: 2, ip: 1000, account: 6, windowMs: 3_600_000 };
    const SEND_LIMIT = [{ string: 'Too many codes were sent. Please wait a while before requesting another one.', code: 'invalid' }];
    before(async () => {
      smtp = await new SmtpSink().start();
      sms = await new SmsGateway().start();
      srv = await startServer(dialect, { twilioApiUrl: sms.url, mfaSend: LIMIT });
      const s = await defaultStages(srv);
      emailStage = await createStage(srv, '/stages/authenticator/email/', {
        name: 'limit-mail',
        host: '127.0.0.1',
        port: smtp.port,
        from_address: 'login@keystage.test',
        token_expiry: 'minutes=5',
      });
      smsStage = await createStage(srv, '/stages/authenticator/sms/', {
        name: 'limit-sms',
        provider: 'twilio',
        from_number: '+15550000000',
        account_sid: 'AC1',
        auth: 't',
      });
      const v = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'limit-validate',
        device_classes: ['email', 'sms'],
        not_configured_action: 'deny',
      });
      flow = await flowOf(srv, 'mfa-limits', [s.identification, s.password, v, s.login]);
    });
    after(async () => {
      await srv.close();
      await smtp.close();
      await sms.close();
    });

    /** a user with a confirmed e-mail device and a confirmed SMS device */
    async function userWithDevices(name: string, phone: string) {
      const id = await createUser(srv, name, `${name}-password-1`);
      const now = new Date().toISOString();
      const common = {
        user_id: id,
        confirmed: 1,
        created: now,
        last_updated: now,
        last_used: null,
        throttling_failure_timestamp: null,
        throttling_failure_count: 0,
        token_hash: null,
        valid_until: null,
      };
      await srv.app.store.db
        .insertInto('email_devices')
        .values({ ...common, stage: emailStage, name: 'Email', email: `${name}@example.com` } as never)
        .execute();
      await srv.app.store.db
        .insertInto('sms_devices')
        .values({ ...common, stage: smsStage, name: 'SMS', phone_number: phone } as never)
        .execute();
    }
    async function toMfa(user: string) {
      const b = new BrowserSession(srv);
      await b.get(flow);
      await b.solve(flow, { component: 'ak-stage-identification', uid_field: user });
      const ch = await b.solve(flow, { component: 'ak-stage-password', password: `${user}-password-1` });
      assert.equal(ch.component, 'ak-stage-authenticator-validate');
      const pick = (cls: string) => {
        const { last_used: _lu, ...c } = ch.device_challenges.find((d: { device_class: string }) => d.device_class === cls);
        return c;
      };
      return { b, email: pick('email'), sms: pick('sms') };
    }
    const mailsTo = (to: string) => smtp.mails.filter((m) => m.to.includes(to)).length;
    const smsTo = (to: string) => sms.messages.filter((m) => m.to === to).length;

    it('parallel selects in one login attempt send at most the attempt limit; the rest get a field error and no message', async () => {
      await userWithDevices('para', '+15550301');
      const { b, email } = await toMfa('para');
      const answers = await Promise.all(
        Array.from({ length: 12 }, () => b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: email })),
      );
      const refused = answers.filter((a) => JSON.stringify(a.response_errors) === JSON.stringify({ selected_challenge: SEND_LIMIT }));
      assert.ok(mailsTo('para@example.com') <= LIMIT.attempt, `sent ${mailsTo('para@example.com')}`);
      assert.ok(mailsTo('para@example.com') >= 1);
      assert.equal(refused.length + mailsTo('para@example.com'), 12, 'every select either sent a code or was refused');
      // the attempt's limit covers its other devices too: switching to SMS sends nothing more
      const viaSms = await b.solve(flow, {
        component: 'ak-stage-authenticator-validate',
        selected_challenge: (await b.get(flow)).device_challenges.find((d: { device_class: string }) => d.device_class === 'sms'),
      });
      assert.deepEqual(viaSms.response_errors, { selected_challenge: SEND_LIMIT });
      assert.equal(smsTo('+15550301'), 0);
    });

    it('parallel selects from many login attempts send at most the device limit', async () => {
      await userWithDevices('many', '+15550302');
      const attempts = await Promise.all(Array.from({ length: 6 }, () => toMfa('many')));
      const answers = await Promise.all(
        attempts.flatMap(({ b, sms: sel }) =>
          Array.from({ length: 5 }, () => b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: sel })),
        ),
      );
      const sent = smsTo('+15550302');
      assert.ok(sent <= LIMIT.device && sent >= 1, `sent ${sent}`);
      assert.equal(answers.filter((a) => a.response_errors?.selected_challenge).length, 30 - sent);
      const row = await srv.app.store.db
        .selectFrom('mfa_sends')
        .select('count')
        .where('scope', '=', 'device')
        .where('key', 'like', 'sms_devices:%')
        .executeTakeFirstOrThrow();
      assert.ok(Number(row.count) <= LIMIT.device);
    });

    it('codes for one identifier stop at the account limit, across devices and login attempts', async () => {
      await userWithDevices('acct', '+15550304');
      for (let i = 0; i < 3; i++) {
        const { b, email, sms: phone } = await toMfa('acct');
        for (const sel of [email, phone])
          assert.equal(
            (await b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: sel })).response_errors
              .selected_challenge,
            undefined,
          );
      }
      const fourth = await toMfa('acct');
      const r = await fourth.b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: fourth.email });
      assert.deepEqual(r.response_errors, { selected_challenge: SEND_LIMIT });
      assert.deepEqual([mailsTo('acct@example.com'), smsTo('+15550304')], [3, 3]);
      const counters = await srv.app.store.db.selectFrom('mfa_sends').select(['scope', 'count']).where('key', '=', 'acct').execute();
      assert.deepEqual(
        counters.map((c) => [c.scope, Number(c.count)]),
        [['account', 6]],
        'the refused send reserved nothing',
      );
    });

    it('a new code for one login attempt leaves the code of another attempt working', async () => {
      await userWithDevices('twice', '+15550303');
      const one = await toMfa('twice');
      await one.b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: one.email });
      const codeOne = smtp.lastCode('twice@example.com')!;
      const two = await toMfa('twice');
      await two.b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: two.email });
      const codeTwo = smtp.lastCode('twice@example.com')!;
      assert.equal(mailsTo('twice@example.com'), 2);
      assert.equal(
        (await one.b.solve(flow, { component: 'ak-stage-authenticator-validate', code: codeOne })).component,
        'xak-flow-redirect',
      );
      assert.equal(
        (await two.b.solve(flow, { component: 'ak-stage-authenticator-validate', code: codeTwo })).component,
        'xak-flow-redirect',
      );
    });
  });
}

for (const dialect of dialects()) {
  describe(`executor: e-mail and SMS send limit per client IP (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    let emailStage: string;
    let flow: string;
    const LIMIT = { device: 100, attempt: 100, ip: 3, account: 100, windowMs: 3_600_000 };
    const SEND_LIMIT = [{ string: 'Too many codes were sent. Please wait a while before requesting another one.', code: 'invalid' }];
    before(async () => {
      smtp = await new SmtpSink().start();
      srv = await startServer(dialect, { mfaSend: LIMIT, trustedProxies: '127.0.0.1' });
      const s = await defaultStages(srv);
      emailStage = await createStage(srv, '/stages/authenticator/email/', {
        name: 'ip-limit-mail',
        host: '127.0.0.1',
        port: smtp.port,
        from_address: 'login@keystage.test',
        token_expiry: 'minutes=5',
      });
      const v = await createStage(srv, '/stages/authenticator/validate/', {
        name: 'ip-limit-validate',
        device_classes: ['email'],
        not_configured_action: 'deny',
      });
      flow = await flowOf(srv, 'mfa-ip-limit', [s.identification, s.password, v, s.login]);
    });
    after(async () => {
      await srv.close();
      await smtp.close();
    });

    /** a user with a confirmed e-mail device, at the validation stage from `ip`; returns the browser and the e-mail challenge */
    async function atMfa(name: string, ip: string) {
      const id = await createUser(srv, name, `${name}-password-1`);
      const now = new Date().toISOString();
      await srv.app.store.db
        .insertInto('email_devices')
        .values({
          user_id: id,
          confirmed: 1,
          created: now,
          last_updated: now,
          last_used: null,
          throttling_failure_timestamp: null,
          throttling_failure_count: 0,
          token_hash: null,
          valid_until: null,
          stage: emailStage,
          name: 'Email',
          email: `${name}@example.com`,
        } as never)
        .execute();
      const b = new BrowserSession(srv, { 'x-forwarded-for': ip });
      await b.get(flow);
      await b.solve(flow, { component: 'ak-stage-identification', uid_field: name });
      const ch = await b.solve(flow, { component: 'ak-stage-password', password: `${name}-password-1` });
      assert.equal(ch.component, 'ak-stage-authenticator-validate');
      const { last_used: _lu, ...email } = ch.device_challenges[0];
      return { b, email, to: `${name}@example.com` };
    }

    it('codes requested from one IP stop at the IP limit, across identifiers and at once; another IP is not affected', async () => {
      const ip = '198.51.100.77';
      const logins = await Promise.all(Array.from({ length: 8 }, (_, i) => atMfa(`ipl-${i}`, ip)));
      const answers = await Promise.all(
        logins.map(({ b, email }) => b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: email })),
      );
      const sent = logins.filter(({ to }) => smtp.mails.some((m) => m.to.includes(to))).length;
      assert.equal(sent, LIMIT.ip, 'exactly the limit were sent');
      assert.equal(
        answers.filter((a) => JSON.stringify(a.response_errors) === JSON.stringify({ selected_challenge: SEND_LIMIT })).length,
        5,
      );
      const row = await srv.app.store.db
        .selectFrom('mfa_sends')
        .select('count')
        .where('scope', '=', 'ip')
        .where('key', '=', ip)
        .executeTakeFirstOrThrow();
      assert.equal(Number(row.count), LIMIT.ip, 'refused sends reserved nothing');
      // someone else from another address gets a code
      const elsewhere = await atMfa('ipl-other', '198.51.100.78');
      const r = await elsewhere.b.solve(flow, { component: 'ak-stage-authenticator-validate', selected_challenge: elsewhere.email });
      assert.equal(r.response_errors.selected_challenge, undefined);
      assert.ok(smtp.lastCode(elsewhere.to), 'a code was sent');
    });
  });
}
