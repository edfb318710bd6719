/**
 * Captcha, as a stage and embedded in identification, against a fake provider on 127.0.0.1 speaking the siteverify
 * protocol: what Keystage sends, how it judges success and scores, and that it fails closed, quickly; the keys a
 * policy may put into the plan instead of the stage's.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { call, dialects, startServer, type TestServer } from '../../helpers/server.js';
import { BrowserSession } from '../../helpers/official-client.js';
import { FakeCaptcha } from '../../helpers/fake-captcha.js';
import { bindExpression, createStage, createUser, defaultStages, flowOf } from '../../helpers/flows.js';
import { sessionKeyOf } from '../../../src/sessions/session-hash.js';

for (const dialect of dialects()) {
  describe(`executor: captcha (${dialect})`, () => {
    let srv: TestServer;
    let provider: FakeCaptcha;
    let captcha: string;
    let slug: string;
    before(async () => {
      // (2 s: a loaded machine answered the fake in more than half a second; the slow mode still shows the bound)
      srv = await startServer(dialect, { captchaTimeoutMs: 2000 });
      provider = await new FakeCaptcha().start();
      await createUser(srv, 'jack', 'jack-password-1');
      const s = await defaultStages(srv);
      captcha = await createStage(srv, '/stages/captcha/', {
        name: 'exec-captcha',
        public_key: 'site-key-1',
        private_key: 'secret-key-1',
        api_url: provider.siteverify(),
        js_url: provider.script('turnstile'),
      });
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'after-captcha' });
      slug = await flowOf(srv, 'exec-captcha-flow', [s.identification, captcha, dummy, s.login]);
    });
    after(async () => {
      await srv.close();
      await provider.close();
    });

    async function atCaptcha() {
      const b = new BrowserSession(srv);
      await b.get(slug);
      const c = await b.solve(slug, { component: 'ak-stage-identification', uid_field: 'jack' });
      assert.equal(c.component, 'ak-stage-captcha');
      return { b, challenge: c };
    }

    const planContext = async (b: BrowserSession) =>
      JSON.parse(
        (
          await srv.app.store.db
            .selectFrom('sessions')
            .select('data')
            .where('session_key', '=', sessionKeyOf(b.cookies.get('authentik_session')!))
            .executeTakeFirstOrThrow()
        ).data,
      ).plan.context;

    it('renders the widget parameters, sends secret/response/remoteip form-encoded, keeps the reply in the flow', async () => {
      const { b, challenge } = await atCaptcha();
      assert.equal(challenge.site_key, 'site-key-1');
      assert.equal(challenge.js_url, provider.script('turnstile'));
      assert.equal(challenge.interactive, false);
      assert.equal(challenge.pending_user, 'jack');
      provider.requests.length = 0;
      const next = await b.solve(slug, { component: 'ak-stage-captcha', token: 'pass' });
      assert.equal(next.component, 'ak-stage-dummy');
      assert.equal(provider.requests.length, 1);
      assert.match(provider.requests[0]!.contentType, /application\/x-www-form-urlencoded/);
      assert.deepEqual(provider.requests[0]!.fields, { secret: 'secret-key-1', remoteip: '127.0.0.1', response: 'pass' });
      assert.equal((await planContext(b)).captcha.response.success, true);
    });

    it('request_content_type application/json sends the same fields as JSON', async () => {
      await call(srv, 'PATCH', `/stages/captcha/${captcha}/`, { request_content_type: 'application/json' });
      try {
        const { b } = await atCaptcha();
        provider.requests.length = 0;
        assert.equal((await b.solve(slug, { component: 'ak-stage-captcha', token: 'pass' })).component, 'ak-stage-dummy');
        assert.match(provider.requests[0]!.contentType, /application\/json/);
        assert.equal(provider.requests[0]!.fields.secret, 'secret-key-1');
      } finally {
        await call(srv, 'PATCH', `/stages/captcha/${captcha}/`, { request_content_type: 'application/x-www-form-urlencoded' });
      }
    });

    it('a rejected token fails: retryable error codes say so', async () => {
      const { b } = await atCaptcha();
      const r = await b.solve(slug, { component: 'ak-stage-captcha', token: 'expired' });
      assert.deepEqual(r.response_errors, {
        token: [{ string: 'Invalid captcha response. Retrying may solve this issue.', code: 'invalid' }],
      });
      const r2 = await b.solve(slug, { component: 'ak-stage-captcha', token: 'forged' });
      assert.deepEqual(r2.response_errors, { token: [{ string: 'Invalid captcha response', code: 'invalid' }] });
    });

    it('scores: inclusive bounds pass; outside fails with error_on_invalid_score, passes (kept for policies) without it', async () => {
      for (const [token, ok] of [
        ['score:0.5', true],
        ['score:1', true],
        ['score:0.49', false],
        ['score:-3', false],
      ] as const) {
        const { b } = await atCaptcha();
        const r = await b.solve(slug, { component: 'ak-stage-captcha', token });
        assert.equal(r.component, ok ? 'ak-stage-dummy' : 'ak-stage-captcha', token);
        if (!ok) assert.deepEqual(r.response_errors, { token: [{ string: 'Invalid captcha response', code: 'invalid' }] });
      }
      await call(srv, 'PATCH', `/stages/captcha/${captcha}/`, { error_on_invalid_score: false });
      try {
        const { b } = await atCaptcha();
        assert.equal((await b.solve(slug, { component: 'ak-stage-captcha', token: 'score:0.1' })).component, 'ak-stage-dummy');
        assert.equal((await planContext(b)).captcha.response.score, 0.1);
        // a token the provider rejects never passes, whatever the score setting
        const { b: b2 } = await atCaptcha();
        assert.equal((await b2.solve(slug, { component: 'ak-stage-captcha', token: 'forged' })).component, 'ak-stage-captcha');
      } finally {
        await call(srv, 'PATCH', `/stages/captcha/${captcha}/`, { error_on_invalid_score: true });
      }
    });

    it('fails closed: a provider that does not answer (bounded by the timeout), answers 500 or garbage', async () => {
      for (const mode of ['slow', '500', 'garbage'] as const) {
        provider.mode = mode;
        try {
          const { b } = await atCaptcha();
          const t0 = Date.now();
          const r = await b.solve(slug, { component: 'ak-stage-captcha', token: 'pass' });
          assert.equal(r.component, 'ak-stage-captcha', mode);
          assert.match(r.response_errors.token[0].string, /^Failed to validate token/, mode);
          if (mode === 'slow') {
            assert.match(r.response_errors.token[0].string, /did not answer in time/);
            assert.ok(Date.now() - t0 < 5000, 'bounded by the configured timeout');
          }
        } finally {
          provider.mode = 'normal';
        }
      }
    });

    it("a policy's keys in the plan (authentik's goauthentik.io/stages/captcha/site_key and private_key) replace the stage's", async () => {
      const s = await defaultStages(srv);
      const dummy = await createStage(srv, '/stages/dummy/', { name: 'after-override' });
      const oslug = await flowOf(srv, 'exec-captcha-override', [s.identification, captcha, dummy, s.login]);
      const setKeys = [
        'plan = context["flow_plan"].context',
        'plan["goauthentik.io/stages/captcha/site_key"] = "site-key-policy"',
        'plan["goauthentik.io/stages/captcha/private_key"] = "secret-key-policy"',
        'return True',
      ].join('\n');
      await bindExpression(srv, oslug, captcha, setKeys);
      const b = new BrowserSession(srv);
      await b.get(oslug);
      const c = await b.solve(oslug, { component: 'ak-stage-identification', uid_field: 'jack' });
      assert.equal(c.component, 'ak-stage-captcha');
      assert.equal(c.site_key, 'site-key-policy');
      provider.requests.length = 0;
      const next = await b.solve(oslug, { component: 'ak-stage-captcha', token: 'pass' });
      assert.equal(next.component, 'ak-stage-dummy');
      assert.equal(provider.requests[0]!.fields.secret, 'secret-key-policy');
      // the stage's own keys everywhere else
      const plain = await atCaptcha();
      assert.equal(plain.challenge.site_key, 'site-key-1');
    });

    it('embedded in identification: checked for everyone before the lookup, one message for every failure', async () => {
      const s = await defaultStages(srv);
      const ident = await createStage(srv, '/stages/identification/', {
        name: 'exec-id-captcha',
        user_fields: ['username'],
        captcha_stage: captcha,
        password_stage: s.password,
      });
      const eslug = await flowOf(srv, 'exec-embedded-captcha', [ident, s.login]);
      const b = new BrowserSession(srv);
      const ch = await b.get(eslug);
      assert.equal(ch.captcha_stage.component, 'ak-stage-captcha');
      assert.equal(ch.captcha_stage.site_key, 'site-key-1');
      const fail = { non_field_errors: [{ string: 'Failed to authenticate.', code: 'invalid' }] };
      for (const [uid, token] of [
        ['jack', 'forged'],
        ['nobody', 'forged'],
        ['jack', 'score:0.1'],
        ['nobody', 'pass'],
      ]) {
        const r = await b.solve(eslug, {
          component: 'ak-stage-identification',
          uid_field: uid,
          password: 'jack-password-1',
          captcha_token: token,
        });
        assert.deepEqual(r.response_errors, fail, `${uid}/${token}`);
      }
      const ok = await b.solve(eslug, {
        component: 'ak-stage-identification',
        uid_field: 'jack',
        password: 'jack-password-1',
        captcha_token: 'pass',
      });
      assert.equal(ok.component, 'xak-flow-redirect');
    });
  });
}
