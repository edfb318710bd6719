/**
 * The default recovery flow end to end through the executor (official client): the login page links to it; the
 * link in the e-mail continues the flow in another browser after a confirmation, works once and expires; the new
 * password is checked by the policy, ends the user's other sessions and logs in; unknown identifiers and rate-limited
 * sends are answered exactly like a send.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, type TestServer } from '../../helpers/server.js';
import { Browser, type Answer } from '../../helpers/browser.js';
import { createUser, stagePk } from '../../helpers/flows.js';
import type { SmtpSink } from '../../helpers/fake-providers.js';
import { EXTERNAL, emailServer, linkIn, mailTo, settle } from './helpers.js';

const FLOW = 'default-recovery-flow';
const LOGIN = 'default-authentication-flow';

async function login(srv: TestServer, username: string, password: string): Promise<Browser> {
  const b = new Browser(srv.api);
  await b.get(LOGIN);
  await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: username });
  const r = await b.solve(LOGIN, { component: 'ak-stage-password', password });
  assert.equal(r.body.component, 'xak-flow-redirect', `login of ${username}: ${JSON.stringify(r.body)}`);
  return b;
}

async function loginFails(srv: TestServer, username: string, password: string): Promise<void> {
  const b = new Browser(srv.api);
  await b.get(LOGIN);
  await b.solve(LOGIN, { component: 'ak-stage-identification', uidField: username });
  const r = await b.solve(LOGIN, { component: 'ak-stage-password', password });
  assert.notEqual(r.body.component, 'xak-flow-redirect');
}

/** identification with `uid`, answered with the e-mail stage's challenge */
async function ask(srv: TestServer, uid: string): Promise<{ b: Browser; answer: Answer }> {
  const b = new Browser(srv.api);
  const first = await b.get(FLOW);
  assert.equal(first.body.component, 'ak-stage-identification');
  const answer = await b.solve(FLOW, { component: 'ak-stage-identification', uidField: uid });
  return { b, answer };
}

for (const dialect of dialects()) {
  describe(`default recovery flow (${dialect})`, () => {
    let srv: TestServer;
    let smtp: SmtpSink;
    before(async () => {
      ({ srv, smtp } = await emailServer(dialect));
      await createUser(srv, 'alice', 'old-password-1');
      await createUser(srv, 'bob', 'bob-password-1');
      await createUser(srv, 'carol', 'carol-password-1');
    });
    after(async () => {
      await srv.close();
      await smtp.close();
    });

    it("exists on a fresh install, is linked from the login page and is the default brand's flow_recovery", async () => {
      const flow = await call(srv, 'GET', `/flows/instances/${FLOW}/`);
      assert.equal(flow.status, 200);
      assert.equal(flow.body.designation, 'recovery');
      assert.equal(flow.body.authentication, 'require_unauthenticated');
      const first = await new Browser(srv.api).get(LOGIN);
      assert.equal(first.body.recovery_url, `/if/flow/${FLOW}/`);
      const brands = await call(srv, 'GET', '/core/brands/');
      assert.equal(brands.body.results[0].flow_recovery, flow.body.pk);
    });

    it('resets the password through the link, ends other sessions and logs in', async () => {
      const elsewhere = await login(srv, 'alice', 'old-password-1');
      assert.equal((await elsewhere.me()).status, 200);

      const { b, answer } = await ask(srv, 'alice@example.com');
      assert.deepEqual(withoutInfo(answer.body), { component: 'ak-stage-email' });
      const mail = await mailTo(smtp, 'alice@example.com');
      const { url, token } = linkIn(mail);
      assert.equal(url.origin, EXTERNAL, 'the link is built from KEYSTAGE_EXTERNAL_URL');
      assert.equal(url.pathname, `/if/flow/${FLOW}/`);
      assert.match(mail.raw, /Subject: Reset your password/);
      // only the key's hash is stored
      const rows = await srv.app.store.db.selectFrom('flow_tokens').select(['key_hash']).execute();
      assert.ok(rows.length >= 1);
      assert.ok(rows.every((r) => r.key_hash !== token && /^[0-9a-f]{64}$/.test(r.key_hash)));
      // the first browser keeps waiting
      assert.equal((await b.get(FLOW)).body.component, 'ak-stage-email');

      // another browser opens the link: a confirmation first (mail scanners that open links use nothing)
      const c = new Browser(srv.api);
      const q = `flow_token=${token}`;
      const confirm = await c.get(FLOW, q);
      assert.equal(confirm.body.component, 'ak-stage-consent');
      assert.equal(confirm.body.header_text, 'Continue to confirm this email address.');
      const reopened = await c.get(FLOW, q);
      assert.equal(reopened.body.component, 'ak-stage-consent', 'opening it again changes nothing');
      const prompt = await c.solve(FLOW, { component: 'ak-stage-consent', token: reopened.body.token }, q);
      assert.equal(prompt.body.component, 'ak-stage-prompt');
      assert.deepEqual(
        prompt.body.fields.map((f: { field_key: string }) => f.field_key),
        ['password', 'password_repeat'],
      );
      const short = await c.solve(FLOW, { component: 'ak-stage-prompt', password: 'short', password_repeat: 'short' } as never, q);
      assert.deepEqual(short.body.response_errors, {
        password: [{ string: 'The password must be at least 8 characters long.', code: 'invalid' }],
      });
      const done = await c.solve(
        FLOW,
        { component: 'ak-stage-prompt', password: 'new-password-1', password_repeat: 'new-password-1' } as never,
        q,
      );
      assert.equal(done.body.component, 'xak-flow-redirect');
      assert.equal((await c.me()).body.user.username, 'alice', 'logged in as alice');
      assert.equal((await elsewhere.me()).status, 403, 'the other session ended');
      await login(srv, 'alice', 'new-password-1');
      await loginFails(srv, 'alice', 'old-password-1');

      // the link worked once: opened again, the flow starts over
      const again = await new Browser(srv.api).get(FLOW, q);
      assert.equal(again.body.component, 'ak-stage-identification');
    });

    it('answers an unknown identifier exactly like a known one, and sends nothing', async () => {
      const before = smtp.mails.length;
      const known = await ask(srv, 'bob');
      const unknown = await ask(srv, 'nobody-here');
      assert.equal(known.answer.status, unknown.answer.status);
      assert.deepEqual(known.answer.body, unknown.answer.body);
      assert.deepEqual(
        known.answer.hops.map((h) => [h.method, h.status]),
        unknown.answer.hops.map((h) => [h.method, h.status]),
      );
      const resendKnown = await known.b.solve(FLOW, { component: 'ak-stage-email' });
      const resendUnknown = await unknown.b.solve(FLOW, { component: 'ak-stage-email' });
      assert.deepEqual(resendKnown.body, resendUnknown.body);
      assert.deepEqual(resendKnown.body.response_errors, { non_field_errors: [{ string: 'email-sent', code: 'email-sent' }] });
      await mailTo(smtp, 'bob@example.com', 2);
      await settle();
      assert.equal(smtp.mails.length, before + 2, 'two mails to bob, none for the unknown identifier');
    });

    it('limits sends per address and answers the limit exactly like a send', async () => {
      const stage = await stagePk(srv, '/stages/email/', 'default-recovery-email');
      assert.equal((await call(srv, 'PATCH', `/stages/email/${stage}/`, { recovery_max_attempts: 2 })).status, 200);
      try {
        const { b, answer } = await ask(srv, 'carol');
        const resent = await b.solve(FLOW, { component: 'ak-stage-email' });
        await mailTo(smtp, 'carol@example.com', 2);
        const limited = await b.solve(FLOW, { component: 'ak-stage-email' });
        assert.deepEqual(limited.body, resent.body, 'the third is answered as the second');
        const fresh = await ask(srv, 'carol');
        assert.deepEqual(fresh.answer.body, answer.body, 'a new attempt is answered as the first');
        await settle();
        assert.equal(smtp.mails.filter((m) => m.to.includes('carol@example.com')).length, 2, 'nothing sent over the limit');
        const counter = await srv.app.store.db.selectFrom('mfa_sends').selectAll().where('scope', '=', 'email_address').execute();
        assert.ok(counter.some((r) => Number(r.count) === 2));
      } finally {
        await call(srv, 'PATCH', `/stages/email/${stage}/`, { recovery_max_attempts: 5 });
        await srv.app.store.db.deleteFrom('mfa_sends').execute();
      }
    });

    it('a link works once even when opened in two browsers, and not after it expires', async () => {
      const first = await ask(srv, 'bob@example.com');
      assert.equal(first.answer.body.component, 'ak-stage-email');
      const n = smtp.mails.filter((m) => m.to.includes('bob@example.com')).length;
      const { token } = linkIn(await mailTo(smtp, 'bob@example.com', n + 1));
      const q = `flow_token=${token}`;
      const x = new Browser(srv.api);
      const y = new Browser(srv.api);
      const cx = await x.get(FLOW, q);
      const cy = await y.get(FLOW, q);
      assert.equal(cx.body.component, 'ak-stage-consent');
      assert.equal(cy.body.component, 'ak-stage-consent');
      const [ax, ay] = await Promise.all([
        x.solve(FLOW, { component: 'ak-stage-consent', token: cx.body.token }, q),
        y.solve(FLOW, { component: 'ak-stage-consent', token: cy.body.token }, q),
      ]);
      const components = [ax.body.component, ay.body.component].sort();
      assert.deepEqual(components, ['ak-stage-access-denied', 'ak-stage-prompt']);
      const denied = ax.body.component === 'ak-stage-access-denied' ? ax : ay;
      assert.equal(denied.body.error_message, 'Link was already used, please request a new link.');

      // an expired link restores nothing
      const second = await ask(srv, 'bob@example.com');
      assert.equal(second.answer.body.component, 'ak-stage-email');
      const late = linkIn(await mailTo(smtp, 'bob@example.com', n + 2));
      await srv.app.store.db
        .updateTable('flow_tokens')
        .set({ expires: new Date(Date.now() - 1000).toISOString() })
        .execute();
      assert.equal((await new Browser(srv.api).get(FLOW, `flow_token=${late.token}`)).body.component, 'ak-stage-identification');
    });
  });
}

/** the challenge without flow_info */
function withoutInfo(body: Record<string, unknown>) {
  const { flow_info: _f, ...rest } = body;
  return rest;
}
