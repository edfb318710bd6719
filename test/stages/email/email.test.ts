/**
 * The e-mail stage's API (authentik's fields, defaults and validation, the SMTP password sealed and never shown,
 * `/stages/email/templates/`), the stage's own SMTP settings, `activate_user_on_success`, an administrator's
 * recovery link and recovery e-mail, a policy's address override, and where links come from: KEYSTAGE_EXTERNAL_URL or the brand's own domain,
 * never the request's Host header.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, type TestServer } from '../../helpers/server.js';
import { Browser } from '../../helpers/browser.js';
import { bindExpression, createStage, createUser, flowOf } from '../../helpers/flows.js';
import { SmtpSink } from '../../helpers/fake-providers.js';
import { EXTERNAL, decoded, emailServer, linkIn, mailTo } from './helpers.js';
import { HostSession } from '../../brands/host.js';
import { failUpdatesOf } from '../../helpers/faults.js';

const EXECUTOR = '/api/v3/flows/executor/default-recovery-flow/?query=';

for (const dialect of dialects()) {
  describe(`email stage (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    let own: SmtpSink;
    before(async () => {
      ({ srv, smtp } = await emailServer(dialect));
      own = await new SmtpSink().start();
    });
    after(async () => {
      await srv.close();
      await smtp.close();
      await own.close();
    });

    it("serves authentik's fields and defaults; the password is write-only and stored encrypted", async () => {
      const r = await call(srv, 'POST', '/stages/email/', { name: 'verify', password: 'smtp-secret' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const { pk, flow_set: _fs, ...rest } = r.body;
      assert.deepEqual(rest, {
        name: 'verify',
        component: 'ak-stage-email-form',
        verbose_name: 'Email Stage',
        verbose_name_plural: 'Email Stages',
        meta_model_name: 'authentik_stages_email.emailstage',
        use_global_settings: false,
        host: 'localhost',
        port: 25,
        username: '',
        use_tls: false,
        use_ssl: false,
        timeout: 10,
        from_address: 'system@authentik.local',
        token_expiry: 'minutes=30',
        subject: 'authentik',
        template: 'email/password_reset.html',
        activate_user_on_success: false,
        recovery_max_attempts: 5,
        recovery_cache_timeout: 'minutes=5',
      });
      const row = (await srv.app.store.db
        .selectFrom('stage_email' as 'stages')
        .select(['password'] as never[])
        .where('stage_uuid', '=', pk)
        .executeTakeFirstOrThrow()) as unknown as { password: string };
      assert.match(row.password, /^enc:v1:/);
      const bad = await call(srv, 'PATCH', `/stages/email/${pk}/`, { token_expiry: 'soon', recovery_cache_timeout: 'minutes=1' });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { token_expiry: ["soon is not in the correct format of 'hours=3;minutes=1'."] });
      const neg = await call(srv, 'PATCH', `/stages/email/${pk}/`, { recovery_max_attempts: -1 });
      assert.equal(neg.status, 400);
      assert.ok(neg.body.recovery_max_attempts);
      assert.equal((await call(srv, 'GET', '/stages/email/?host=localhost&use_global_settings=false')).body.results.length, 1);
      assert.equal((await call(srv, 'DELETE', `/stages/email/${pk}/`)).status, 204);
    });

    it('lists the templates', async () => {
      const r = await call(srv, 'GET', '/stages/email/templates/');
      assert.equal(r.status, 200);
      assert.deepEqual(
        r.body.map((t: { name: string }) => t.name),
        ['email/password_reset.html', 'email/account_confirmation.html'],
      );
      assert.equal(r.body[0].description, 'Password Reset');
    });

    it('sends with its own SMTP settings and template; the link activates the user with activate_user_on_success', async () => {
      const userPk = await createUser(srv, 'dora', 'dora-password-1');
      assert.equal((await call(srv, 'PATCH', `/core/users/${userPk}/`, { is_active: false })).status, 200);
      const ident = await createStage(srv, '/stages/identification/', { name: 'act-ident', user_fields: ['username'] });
      const email = await createStage(srv, '/stages/email/', {
        name: 'act-email',
        host: '127.0.0.1',
        port: own.port,
        from_address: 'verify@example.test',
        subject: 'Confirm your address',
        template: 'Hello {{ user }}, open {{ url }} within {{ expires }}.',
        token_expiry: 'hours=2',
        activate_user_on_success: true,
      });
      // a login stage after the email stage: it sees the user the email stage activated in the same request
      const login = (await call(srv, 'GET', '/stages/user_login/?name=default-authentication-login')).body.results[0].pk;
      const slug = await flowOf(srv, 'activate-flow', [ident, email, login], { designation: 'enrollment' });
      const b = new Browser(srv.api);
      await b.get(slug);
      const sent = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'dora' });
      assert.equal(sent.body.component, 'ak-stage-email');
      const mail = await mailTo(own, 'dora@example.com');
      assert.equal(mail.from, 'verify@example.test');
      assert.match(
        decoded(mail),
        /Hello dora Example, open https:\/\/login\.example\.test\/if\/flow\/activate-flow\/\?flow_token=[\w-]+ within 2 hours\./,
      );
      assert.equal(smtp.mails.filter((m) => m.to.includes('dora@example.com')).length, 0, 'not the global server');
      const { token } = linkIn(mail);
      const c = new Browser(srv.api);
      const q = `flow_token=${token}`;
      const confirm = await c.get(slug, q);
      assert.equal((await call(srv, 'GET', `/core/users/${userPk}/`)).body.is_active, false, 'opening the link is not enough');
      const done = await c.solve(slug, { component: 'ak-stage-consent', token: confirm.body.token }, q);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal((await call(srv, 'GET', `/core/users/${userPk}/`)).body.is_active, true);
      const sessions = await srv.app.store.db.selectFrom('sessions').select('user_id').where('user_id', '=', userPk).execute();
      assert.equal(sessions.length, 1, 'logged in by the login stage');
    });

    it("a policy's `email` in the plan is where the link goes instead of the user's address (authentik's override)", async () => {
      await createUser(srv, 'ovid', 'ovid-password-1');
      const ident = await createStage(srv, '/stages/identification/', { name: 'ovr-ident', user_fields: ['username'] });
      const email = await createStage(srv, '/stages/email/', {
        name: 'ovr-email',
        host: '127.0.0.1',
        port: own.port,
        from_address: 'verify@example.test',
        subject: 'Confirm your new address',
      });
      const slug = await flowOf(srv, 'override-flow', [ident, email], { designation: 'stage_configuration' });
      await bindExpression(srv, slug, email, 'context["flow_plan"].context["email"] = "ovid.new@example.org"\nreturn True');
      const b = new Browser(srv.api);
      await b.get(slug);
      const sent = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'ovid' });
      assert.equal(sent.body.component, 'ak-stage-email');
      const mail = await mailTo(own, 'ovid.new@example.org');
      assert.match(decoded(mail), /flow_token=/);
      assert.equal(own.mails.filter((m) => m.to.includes('ovid@example.com')).length, 0, "not the user's own address");
    });

    it('the link is used up and the person activated together: a failure between them leaves the link usable', async () => {
      const userPk = await createUser(srv, 'esme', 'esme-password-1');
      assert.equal((await call(srv, 'PATCH', `/core/users/${userPk}/`, { is_active: false })).status, 200);
      const ident = await createStage(srv, '/stages/identification/', { name: 'atomic-ident', user_fields: ['username'] });
      const email = await createStage(srv, '/stages/email/', {
        name: 'atomic-email',
        host: '127.0.0.1',
        port: own.port,
        from_address: 'verify@example.test',
        activate_user_on_success: true,
      });
      const slug = await flowOf(srv, 'atomic-activate-flow', [ident, email], { designation: 'enrollment' });
      const b = new Browser(srv.api);
      await b.get(slug);
      assert.equal((await b.solve(slug, { component: 'ak-stage-identification', uidField: 'esme' })).body.component, 'ak-stage-email');
      const { token } = linkIn(await mailTo(own, 'esme@example.com'));
      const c = new Browser(srv.api);
      const q = `flow_token=${token}`;
      const confirm = await c.get(slug, q);
      assert.equal(confirm.body.component, 'ak-stage-consent');
      const tokens = async () =>
        (await srv.app.store.db.selectFrom('flow_tokens').select('id').where('user_id', '=', userPk).execute()).length;
      assert.equal(await tokens(), 1);
      const heal = await failUpdatesOf(srv, dialect, 'users', 'is_active', `OLD.id = ${userPk}`);
      try {
        const failed = await c.solve(slug, { component: 'ak-stage-consent', token: confirm.body.token }, q);
        assert.notEqual(failed.body?.component, 'xak-flow-redirect', JSON.stringify(failed.body));
      } finally {
        await heal();
      }
      assert.equal((await call(srv, 'GET', `/core/users/${userPk}/`)).body.is_active, false);
      assert.equal(await tokens(), 1, 'the link was not used up by the failed request');
      // the same link, again: it works
      const again = await c.get(slug, q);
      const done = await c.solve(slug, { component: 'ak-stage-consent', token: again.body.token }, q);
      assert.equal(done.body.component, 'xak-flow-redirect', JSON.stringify(done.body));
      assert.equal((await call(srv, 'GET', `/core/users/${userPk}/`)).body.is_active, true);
      assert.equal(await tokens(), 0);
    });

    it('outside a recovery flow, an identifier that matched nobody is refused', async () => {
      const ident = await createStage(srv, '/stages/identification/', { name: 'np-ident', user_fields: ['username'] });
      const email = await createStage(srv, '/stages/email/', { name: 'np-email', use_global_settings: true });
      const slug = await flowOf(srv, 'np-flow', [ident, email], { designation: 'enrollment' });
      const b = new Browser(srv.api);
      await b.get(slug);
      const r = await b.solve(slug, { component: 'ak-stage-identification', uidField: 'ghost' });
      assert.equal(r.body.component, 'ak-stage-access-denied');
      assert.equal(r.body.error_message, 'No pending user.');
    });

    it("an administrator's recovery link leads straight to the new password, once", async () => {
      const pk = await createUser(srv, 'erin', 'erin-password-1');
      const r = await call(srv, 'POST', `/core/users/${pk}/recovery/`, {});
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const url = new URL(r.body.link);
      assert.equal(url.origin, EXTERNAL);
      assert.equal(url.pathname, '/if/flow/default-recovery-flow/');
      // it lasts the system's default_token_duration (a day), as authentik's
      const row = await srv.app.store.db.selectFrom('flow_tokens').select('expires').where('user_id', '=', pk).executeTakeFirstOrThrow();
      assert.ok(Math.abs(Date.parse(row.expires) - (Date.now() + 86_400_000)) < 60_000, row.expires);
      const q = `flow_token=${url.searchParams.get('flow_token')}`;
      const b = new Browser(srv.api);
      const first = await b.get('default-recovery-flow', q);
      assert.equal(first.body.component, 'ak-stage-prompt', JSON.stringify(first.body));
      const done = await b.solve(
        'default-recovery-flow',
        { component: 'ak-stage-prompt', password: 'erin-new-pass', password_repeat: 'erin-new-pass' } as never,
        q,
      );
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal((await b.me()).body.user.username, 'erin');
      assert.equal((await new Browser(srv.api).get('default-recovery-flow', q)).body.component, 'ak-stage-identification');
      const bad = await call(srv, 'POST', `/core/users/${pk}/recovery/`, { token_duration: 'forever' });
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body, { token_duration: ["forever is not in the correct format of 'hours=3;minutes=1'."] });
      assert.equal((await call(srv, 'POST', '/core/users/999999/recovery/', {})).status, 404);
      const anon = await fetch(`${srv.api}/core/users/${pk}/recovery/`, { method: 'POST' });
      assert.equal(anon.status, 403);
    });

    it('recovery links asked for at the same time (real parallel requests): one link stays live, the latest', async () => {
      const pk = await createUser(srv, 'hal', 'hal-password-1');
      for (let round = 0; round < 4; round++) {
        const links = await Promise.all([1, 2, 3, 4].map(() => call(srv, 'POST', `/core/users/${pk}/recovery/`, {})));
        assert.deepEqual(
          links.map((l) => l.status),
          [200, 200, 200, 200],
        );
        const live = await srv.app.store.db
          .selectFrom('flow_tokens')
          .select('id')
          .where('user_id', '=', pk)
          .where('expires', '>', new Date().toISOString())
          .execute();
        assert.equal(live.length, 1, 'one live recovery token per person');
        const opened = await Promise.all(
          links.map(async (l) => {
            const q = `flow_token=${new URL(l.body.link).searchParams.get('flow_token')}`;
            return (await new Browser(srv.api).get('default-recovery-flow', q)).body.component;
          }),
        );
        assert.deepEqual(
          opened.filter((c) => c === 'ak-stage-prompt'),
          ['ak-stage-prompt'],
          'exactly one of the links opens the new-password prompt',
        );
      }
    });

    it('recovery_email sends the link with the chosen stage', async () => {
      const pk = await createUser(srv, 'frank', 'frank-password-1');
      const stage = await createStage(srv, '/stages/email/', { name: 'admin-mail', use_global_settings: true, subject: 'Your link' });
      const r = await call(srv, 'POST', `/core/users/${pk}/recovery_email/`, { email_stage: stage, token_duration: 'hours=1' });
      assert.equal(r.status, 204, JSON.stringify(r.body));
      const mail = await mailTo(smtp, 'frank@example.com');
      assert.match(mail.raw, /Subject: Your link/);
      const { url } = linkIn(mail);
      assert.equal(url.pathname, '/if/flow/default-recovery-flow/');
      // a mail scanner opening the link spends nothing: it is confirmed first (authentik's consent for e-mailed links)
      const scanner = await new Browser(srv.api).get('default-recovery-flow', url.search.slice(1));
      assert.equal(scanner.body.component, 'ak-stage-consent');
      assert.equal(scanner.body.header_text, 'Continue to confirm this email address.');
      const b = new Browser(srv.api);
      const shown = await b.get('default-recovery-flow', url.search.slice(1));
      assert.equal(shown.body.component, 'ak-stage-consent');
      assert.equal(shown.body.pending_user, 'frank');
      const first = await b.solve('default-recovery-flow', { component: 'ak-stage-consent', token: shown.body.token }, url.search.slice(1));
      assert.equal(first.body.component, 'ak-stage-prompt', JSON.stringify(first.body));
      // confirmed once: the link is used up
      const again = await new Browser(srv.api).get('default-recovery-flow', url.search.slice(1));
      assert.notEqual(again.body.component, 'ak-stage-prompt');
      const noMail = await createUser(srv, 'gina', 'gina-password-1', { email: '' });
      assert.deepEqual((await call(srv, 'POST', `/core/users/${noMail}/recovery_email/`, { email_stage: stage })).body, {
        non_field_errors: 'User does not have an email address set.',
      });
      const ident = (await call(srv, 'GET', '/stages/identification/')).body.results[0].pk;
      assert.deepEqual((await call(srv, 'POST', `/core/users/${pk}/recovery_email/`, { email_stage: ident })).body, {
        non_field_errors: 'Email stage not found.',
      });
      assert.equal((await call(srv, 'POST', `/core/users/${pk}/recovery_email/`, {})).status, 400);
    });

    it('without a recovery flow on the brand there is no link', async () => {
      const brand = (await call(srv, 'GET', '/core/brands/')).body.results[0];
      const pk = await createUser(srv, 'hank', 'hank-password-1');
      assert.equal((await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { flow_recovery: null })).status, 200);
      try {
        assert.deepEqual((await call(srv, 'POST', `/core/users/${pk}/recovery/`, {})).body, {
          non_field_errors: 'No recovery flow set.',
        });
      } finally {
        await call(srv, 'PATCH', `/core/brands/${brand.brand_uuid}/`, { flow_recovery: brand.flow_recovery });
      }
    });
  });

  describe(`email stage links without KEYSTAGE_EXTERNAL_URL (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    before(async () => {
      ({ srv, smtp } = await emailServer(dialect, { externalUrl: undefined }));
      await createUser(srv, 'ivy', 'ivy-password-1');
    });
    after(async () => {
      await srv.close();
      await smtp.close();
    });

    it('never builds a link from the Host header: a brand domain, else nothing is sent', async () => {
      const evil = new HostSession(srv, { host: 'attacker.example' });
      await evil.send('GET', EXECUTOR);
      const refused = await evil.send('POST', EXECUTOR, { component: 'ak-stage-identification', uid_field: 'ivy' });
      assert.equal(refused.json.component, 'ak-stage-access-denied');
      const events = await call(srv, 'GET', '/events/events/?action=configuration_error');
      assert.equal(events.body.results.length, 1);

      const flow = (await call(srv, 'GET', '/flows/instances/default-recovery-flow/')).body.pk;
      assert.equal((await call(srv, 'POST', '/core/brands/', { domain: 'login.example.org', flow_recovery: flow })).status, 201);
      const b = new HostSession(srv, { host: 'login.example.org' });
      await b.send('GET', EXECUTOR);
      const sent = await b.send('POST', EXECUTOR, { component: 'ak-stage-identification', uid_field: 'ivy' });
      assert.equal(sent.json.component, 'ak-stage-email');
      const { url } = linkIn(await mailTo(smtp, 'ivy@example.com'));
      assert.equal(url.origin, 'https://login.example.org');
      assert.equal(smtp.mails.length, 1, 'the refused request sent nothing');
    });
  });
}
